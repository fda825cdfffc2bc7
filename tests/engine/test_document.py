"""The sd-correspondence file: round trip, relative paths, validation messages, version policy."""

from __future__ import annotations

import json

import pytest

from engine.errors import DocumentError
from engine.export import CorrespondenceDocument, ImageRef, Keypoint, PairRecord, Prediction, Run


def sample_document(tmp_path) -> CorrespondenceDocument:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    pair = PairRecord(
        pair_id="cat-0001",
        category="cat",
        source=ImageRef(images / "a.jpg", 500, 375, "ab" * 32, (1.0, 2.0, 300.0, 200.0)),
        target=ImageRef(images / "b.jpg", 480, 360),
        keypoints=[
            Keypoint(
                0, (120.5, 88.5), (301.5, 92.5), "left_eye", 2, "corrected", [Prediction("r1", (298.5, 95.5), 0.81)]
            ),
            Keypoint(1, (10.0, 20.0), None, "", 1, "predicted", []),
        ],
    )
    return CorrespondenceDocument(runs=[Run("r1", {"backend": "sift"})], pairs=[pair], extra={"session": {"x": 1}})


def test_round_trip_with_relative_paths(tmp_path):
    document = sample_document(tmp_path)
    document.save(tmp_path / "out" / "export.json")
    raw = json.loads((tmp_path / "out" / "export.json").read_text())
    assert raw["pairs"][0]["source"]["path"] == "../images/a.jpg"
    assert raw["coordinates"]["origin"] == "center_of_top_left_pixel"
    loaded = CorrespondenceDocument.load(tmp_path / "out" / "export.json")
    assert loaded.pairs[0].source.path.resolve() == (tmp_path / "images" / "a.jpg").resolve()
    assert loaded.pairs[0].keypoints == document.pairs[0].keypoints
    assert loaded.runs == document.runs and loaded.extra == {"session": {"x": 1}}


def test_a_newer_minor_version_is_read_and_a_newer_major_refused(tmp_path):
    document = sample_document(tmp_path)
    data = document.to_dict(tmp_path)
    data["schema_version"] = "1.7.0"
    data["pairs"][0]["future_field"] = True
    assert CorrespondenceDocument.from_dict(data, tmp_path).pairs[0].pair_id == "cat-0001"
    data["schema_version"] = "2.0.0"
    with pytest.raises(DocumentError, match=r"schema version 2\.0\.0 is not supported"):
        CorrespondenceDocument.from_dict(data, tmp_path)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("pairs", 0, "keypoints", 0, "src_xy"), [1, "a"], r"pairs\[0\].keypoints\[0\].src_xy must be \[x, y\]"),
        (("pairs", 0, "keypoints", 0, "status"), "maybe", "status is 'maybe'"),
        (("pairs", 0, "keypoints", 0, "visibility"), 5, "visibility is 5"),
        (("pairs", 0, "source", "width"), "wide", r"pairs\[0\].source.width must be an integer"),
        (("pairs", 0, "keypoints", 1, "id"), 0, "repeated ids"),
    ],
)
def test_malformed_fields_are_named(tmp_path, path, value, message):
    data = sample_document(tmp_path).to_dict(tmp_path)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DocumentError, match=message):
        CorrespondenceDocument.from_dict(data, tmp_path)


def test_not_json_or_not_ours(tmp_path):
    (tmp_path / "a.json").write_text("{ nope")
    with pytest.raises(DocumentError, match="not valid JSON"):
        CorrespondenceDocument.load(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"shapes": []}')
    with pytest.raises(DocumentError, match="not an sd-correspondence file"):
        CorrespondenceDocument.load(tmp_path / "b.json")


def test_a_crash_while_saving_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "export.json"
    document = sample_document(tmp_path)
    document.save(path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", explode)
    document.pairs[0].category = "dog"
    with pytest.raises(OSError, match="disk full"):
        document.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
