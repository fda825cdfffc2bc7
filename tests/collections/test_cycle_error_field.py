"""sd-correspondence 1.1: the optional ``cycle_error`` of a prediction; 1.0 files are still read."""

from __future__ import annotations

import json

import pytest

from engine.errors import DocumentError
from engine.export import SCHEMA_VERSION, CorrespondenceDocument, ImageRef, Keypoint, PairRecord, Prediction, Run


def document(tmp_path, cycle_error: float | None) -> CorrespondenceDocument:
    pair = PairRecord(
        "p", ImageRef(tmp_path / "a.jpg", 10, 10), ImageRef(tmp_path / "b.jpg", 10, 10),
        keypoints=[Keypoint(0, (1.0, 2.0), (3.0, 4.0), predictions=[Prediction("r1", (3.0, 4.0), 0.5, None, cycle_error)])],  # noqa: E501
    )  # fmt: skip
    return CorrespondenceDocument(runs=[Run("r1", {"backend": "sift"})], pairs=[pair])


def test_cycle_error_round_trips_and_is_written_only_when_known(tmp_path):
    assert SCHEMA_VERSION == "1.1.0"
    document(tmp_path, 2.5).save(tmp_path / "with.json")
    raw = json.loads((tmp_path / "with.json").read_text())
    assert raw["schema_version"] == "1.1.0" and raw["pairs"][0]["keypoints"][0]["predictions"][0]["cycle_error"] == 2.5
    assert CorrespondenceDocument.load(tmp_path / "with.json").pairs[0].keypoints[0].predictions[0].cycle_error == 2.5
    document(tmp_path, None).save(tmp_path / "without.json")
    assert "cycle_error" not in (tmp_path / "without.json").read_text()


def test_a_1_0_file_is_still_read(tmp_path):
    document(tmp_path, None).save(tmp_path / "old.json")
    raw = json.loads((tmp_path / "old.json").read_text()) | {"schema_version": "1.0.0"}
    (tmp_path / "old.json").write_text(json.dumps(raw))
    prediction = CorrespondenceDocument.load(tmp_path / "old.json").pairs[0].keypoints[0].predictions[0]
    assert prediction.cycle_error is None and prediction.xy == (3.0, 4.0)


def test_a_bad_cycle_error_is_named(tmp_path):
    document(tmp_path, 1.0).save(tmp_path / "bad.json")
    raw = json.loads((tmp_path / "bad.json").read_text())
    raw["pairs"][0]["keypoints"][0]["predictions"][0]["cycle_error"] = "far"
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    with pytest.raises(
        DocumentError, match=r"pairs\[0\]\.keypoints\[0\]\.predictions\[0\]\.cycle_error must be a finite"
    ):
        CorrespondenceDocument.load(tmp_path / "bad.json")
