"""Converters from the sd-correspondence document to SPair-71k JSON, PF-Pascal CSV, COCO keypoints and
labelme pairs; heatmap side files."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from engine.errors import DocumentError
from engine.export import converters
from engine.export.document import (
    SCHEMA,
    STATUSES,
    VISIBILITIES,
    CorrespondenceDocument,
    ImageRef,
    Keypoint,
    PairRecord,
    Prediction,
    Run,
)
from engine.export.heatmaps import read_heatmap, save_with_heatmaps
from engine.file_names import file_stem


@pytest.fixture
def document(tmp_path: Path) -> CorrespondenceDocument:
    images = tmp_path / "images"
    keypoints = [
        Keypoint(0, (10.5, 20.49), (30.5, 40.0), label="4"),  # SPair keypoint id 4; .5 rounds up
        Keypoint(1, (11.0, 21.0), (31.0, 41.0), status="rejected"),  # left out everywhere
        Keypoint(2, (12.25, 22.75), (32.0, 42.0), label="tip", visibility=1, status="corrected"),
        Keypoint(3, (13.0, 23.0), None),  # not placed on the target
        Keypoint(4, (14.0, 24.0), (34.0, 44.0), visibility=0),  # flagged "not labelled"
    ]
    first = PairRecord(
        "p1",
        ImageRef(images / "a.jpg", 100, 80, bbox_xyxy=(5.0, 6.0, 50.4, 60.6)),
        ImageRef(images / "b.jpg", 120, 90),
        category="Cat",
        keypoints=keypoints,
    )
    second = PairRecord(
        "p2",
        ImageRef(images / "b.jpg", 120, 90),
        ImageRef(images / "c.png", 64, 48),
        category=None,
        keypoints=[Keypoint(0, (1.0, 2.0), (3.0, 4.0))],
    )
    return CorrespondenceDocument(pairs=[first, second])


def test_spair_annotation(document):
    data = converters.spair_annotation(document.pairs[0])
    assert data["src_kps"] == [[11, 20], [12, 23]]
    assert data["trg_kps"] == [[31, 40], [32, 42]]
    assert data["kps_ids"] == [4, 3]  # numeric labels are SPair ids; others fall back to the point number (id + 1)
    assert data["src_imsize"] == [100, 80, 3] and data["trg_imsize"] == [120, 90, 3]
    assert data["src_bndbox"] == [5, 6, 50, 61]
    assert data["trg_bndbox"] == [0, 0, 119, 89]  # no box: the whole image
    assert data["src_imname"] == "a.jpg" and data["category"] == "Cat"
    assert data["occlusion"] == 0 and data["mirror"] == 0


def test_write_spair_one_file_per_pair(document, tmp_path):
    written = converters.write_spair(document, tmp_path / "spair")
    assert [p.name for p in written] == ["p1.json", "p2.json"]
    assert json.loads(written[1].read_text())["trg_kps"] == [[3, 4]]


def test_pfpascal_csv(document, tmp_path):
    path = converters.write_pfpascal_csv(document, tmp_path / "out" / "pairs.csv")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == list(converters.PFPASCAL_COLUMNS)
    assert rows[1] == [
        "../images/a.jpg",
        "../images/b.jpg",
        "8",
        "10.50;12.25",
        "20.49;22.75",
        "30.50;32.00",
        "40.00;42.00",
    ]
    assert rows[2][2] == "0"  # unknown category


def test_coco_keypoints(document, tmp_path):
    data = converters.coco_keypoints(document, tmp_path)
    assert [image["file_name"] for image in data["images"]] == ["images/a.jpg", "images/b.jpg", "images/c.png"]
    source, target, second_source, _ = data["annotations"]
    # Same keypoint order in both annotations of a pair; rejected keypoints are dropped.
    assert source["point_numbers"] == target["point_numbers"] == [1, 3, 4, 5]  # as the app numbers them
    assert source["keypoints"] == [10.5, 20.49, 2, 12.25, 22.75, 1, 13.0, 23.0, 2, 0, 0, 0]
    assert target["keypoints"] == [30.5, 40.0, 2, 32.0, 42.0, 1, 0, 0, 0, 0, 0, 0]
    assert (source["num_keypoints"], target["num_keypoints"]) == (3, 2)
    assert source["bbox"] == [5.0, 6.0, 45.4, 54.6]  # from the document's box
    assert target["bbox"] == [30.5, 40.0, 1.5, 2.0]  # the placed keypoints' extent
    assert (source["role"], target["role"], source["pair_id"]) == ("source", "target", "p1")
    assert second_source["image_id"] == target["image_id"]  # b.jpg is one image
    categories = {c["name"]: c for c in data["categories"]}
    # Named by label, else by number; unlabelled point 4 is told apart from the point labelled "4".
    assert categories["Cat"]["keypoints"] == ["4", "tip", "4 (point 4)", "5"]
    assert categories["object"]["keypoints"] == ["1"]
    assert data["info"]["coordinates"]["origin"] == "center_of_top_left_pixel"


def test_coco_names_points_alike_across_the_pairs_of_a_category(document):
    """Pairs that name their points the same share a slot, whatever their order or ids."""
    second = document.pairs[1]
    second.category = "Cat"
    second.keypoints = [
        Keypoint(0, (1.0, 2.0), (3.0, 4.0), label="tip"),
        Keypoint(1, (5.0, 6.0), (7.0, 8.0), label="ear"),
    ]
    data = converters.coco_keypoints(document, document.pairs[0].source.path.parent)
    [category] = data["categories"]
    assert category["keypoints"] == ["4", "tip", "4 (point 4)", "5", "ear"]
    _, _, second_source, second_target = data["annotations"]
    assert second_source["keypoints"] == [0, 0, 0, 1.0, 2.0, 2, 0, 0, 0, 0, 0, 0, 5.0, 6.0, 2]
    assert second_target["point_numbers"] == [None, 1, None, None, 2]
    assert all(len(a["keypoints"]) == 3 * 5 for a in data["annotations"])


def test_labelme_pairs(document, tmp_path):
    written = converters.write_labelme(document, tmp_path / "labelme")
    assert [p.name for p in written] == ["p1_source.json", "p1_target.json", "p2_source.json", "p2_target.json"]
    source, target = (json.loads(p.read_text()) for p in written[:2])
    assert source["imagePath"] == "../images/a.jpg" and source["imageData"] is None
    assert (source["imageWidth"], source["imageHeight"], target["imageWidth"]) == (100, 80, 120)
    # usable keypoints only, linked by group_id and label; labelme's origin is the image corner
    assert [(s["label"], s["group_id"], s["points"]) for s in source["shapes"]] == [
        ("4", 1, [[11.0, 20.99]]),
        ("tip", 3, [[12.75, 23.25]]),
    ]
    assert [(s["group_id"], s["points"]) for s in target["shapes"]] == [(1, [[31.0, 40.5]]), (3, [[32.5, 42.5]])]
    assert [s["flags"]["occluded"] for s in target["shapes"]] == [False, True]
    assert [s["description"] for s in target["shapes"]] == ["predicted", "corrected"]
    assert all(s["shape_type"] == "point" for s in source["shapes"] + target["shapes"])
    assert target["sd_correspondence"] == {"pair_id": "p1", "role": "target", "category": "Cat"}


def test_file_names_from_ids_are_safe_and_never_overwrite_each_other(document, tmp_path):
    document.pairs[0].pair_id, document.pairs[1].pair_id = "../cats/a b:c", "cats a/b c"
    written = converters.write_spair(document, tmp_path / "spair")
    assert [p.name for p in written] == ["cats_a_b_c.json", "cats_a_b_c-2.json"]
    assert all(p.parent == tmp_path / "spair" for p in written)
    written = converters.write_labelme(document, tmp_path / "labelme")
    assert len(set(written)) == 4 and json.loads(written[3].read_text())["sd_correspondence"]["pair_id"] == "cats a/b c"


@pytest.mark.parametrize(
    ("text", "stem"),
    [
        ("cat:001/x y", "cat_001_x_y"),
        ("..", "_"),
        ("", "_"),
        ("con", "con_"),
        ("LPT1.json", "LPT1.json_"),
        ("ok-1", "ok-1"),
    ],
)
def test_file_stem(text, stem):
    assert file_stem(text) == stem


def one_pair_with_two_runs(document: CorrespondenceDocument) -> CorrespondenceDocument:
    pair = document.pairs[1]
    pair.keypoints[0] = dataclasses.replace(
        pair.keypoints[0], predictions=(Prediction("class:cat", (3.0, 4.0)), Prediction("class/cat", (3.5, 4.0)))
    )
    return CorrespondenceDocument(pairs=[pair])


def test_heatmap_side_files(document, tmp_path):
    document = one_pair_with_two_runs(document)
    maps = {"p2": {"class:cat": {0: np.full((3, 4), 0.25)}, "class/cat": {0: np.full((3, 4), -0.5)}}}
    export = tmp_path / "out" / "export.json"
    written = save_with_heatmaps(document, maps, export)
    folder = written[1].parent.name
    assert re.fullmatch(r"export_heatmaps-[0-9a-f]{8}", folder)  # a folder of its own per export
    names = [f"{folder}/p2_point1_class_cat.npy", f"{folder}/p2_point1_class_cat-2.npy"]  # no run overwrites another
    assert written == [export, *(tmp_path / "out" / name for name in names)]
    assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == sorted(Path(n).name for n in names)
    saved = CorrespondenceDocument.load(export)
    assert [p.heatmap for p in saved.pairs[0].keypoints[0].predictions] == names
    loaded = read_heatmap(export, names[1])
    assert loaded.dtype == np.float32 and loaded.shape == (3, 4) and (loaded == -0.5).all()
    with pytest.raises(DocumentError, match="cannot read the heatmap"):
        read_heatmap(export, f"{folder}/missing.npy")
    # Another JSON beside it, even one whose name cleans to the same text, has its own folder.
    other = save_with_heatmaps(document, maps, tmp_path / "out" / "export .json")[1].parent.name
    assert other.startswith("export _heatmaps-")
    assert (tmp_path / "out" / folder).is_dir()


def test_a_failed_heatmap_export_leaves_the_earlier_one_as_it_was(document, tmp_path, monkeypatch):
    document = one_pair_with_two_runs(document)
    export = tmp_path / "export.json"
    folder = save_with_heatmaps(document, {"p2": {"class:cat": {0: np.full((3, 4), 0.25)}}}, export)[1].parent.name
    before = export.read_text()
    with pytest.raises(ValueError, match=r"heatmaps for keypoints \[7\] not in pair 'p2'"):
        save_with_heatmaps(document, {"p2": {"class:cat": {7: np.zeros((3, 4))}}}, export)

    def failing_save(self, path):
        raise OSError("disk full")

    monkeypatch.setattr(CorrespondenceDocument, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_with_heatmaps(document, {"p2": {"class:cat": {0: np.full((3, 4), 9.0)}}}, export)
    assert export.read_text() == before
    assert (read_heatmap(export, f"{folder}/p2_point1_class_cat.npy") == 0.25).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", folder]  # no staging left


def test_the_json_schema_matches_the_writer(document, tmp_path):
    """The published schema and document.py must not drift apart (no validator is installed, so the
    enumerations and property names are compared directly)."""
    schema = json.loads((Path(converters.__file__).parent / "sd-correspondence.schema.json").read_text())
    definitions = schema["$defs"]
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert definitions["keypoint"]["properties"]["status"]["enum"] == list(STATUSES)
    assert definitions["keypoint"]["properties"]["visibility"]["enum"] == list(VISIBILITIES)
    document.runs.append(Run("r1", {"backend": "sift"}))
    keypoint = document.pairs[0].keypoints[0]
    document.pairs[0].keypoints[0] = keypoint.with_prediction(Prediction("r1", (1.0, 2.0), 0.5), primary=False)
    written = document.to_dict(tmp_path)
    assert set(schema["required"]) <= set(written) and set(written) <= set(schema["properties"])
    pair = written["pairs"][0]
    for name, data in (
        ("pair", pair),
        ("image", pair["source"]),
        ("keypoint", pair["keypoints"][0]),
        ("prediction", pair["keypoints"][0]["predictions"][0]),
        ("run", written["runs"][0]),
    ):
        properties = definitions[name]["properties"]
        assert set(data) <= set(properties), name
        assert set(definitions[name]["required"]) <= set(data), name


def test_a_coco_box_from_keypoints_encloses_them_after_rounding():
    """Rounding x and w apart can end the box 0.01 before the rounded rightmost keypoint."""
    points = [(143.134, 60.0), (193.806, 80.0)]
    x, y, w, h = converters.coco_box(ImageRef(Path("a.jpg"), 300, 200), points)
    assert x <= round(points[0][0], 2) and x + w >= round(points[1][0], 2)
    assert y <= 60.0 and y + h >= 80.0
