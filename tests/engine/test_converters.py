"""Converters from the sd-correspondence document to SPair-71k JSON, PF-Pascal CSV and COCO keypoints."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

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
    assert data["kps_ids"] == [4, 2]  # numeric labels are SPair ids; others fall back to the keypoint id
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
    assert source["keypoint_ids"] == target["keypoint_ids"] == [0, 2, 3, 4]
    assert source["keypoints"] == [10.5, 20.49, 2, 12.25, 22.75, 1, 13.0, 23.0, 2, 0, 0, 0]
    assert target["keypoints"] == [30.5, 40.0, 2, 32.0, 42.0, 1, 0, 0, 0, 0, 0, 0]
    assert (source["num_keypoints"], target["num_keypoints"]) == (3, 2)
    assert source["bbox"] == [5.0, 6.0, 45.4, 54.6]  # from the document's box
    assert target["bbox"] == [30.5, 40.0, 1.5, 2.0]  # the placed keypoints' extent
    assert (source["role"], target["role"], source["pair_id"]) == ("source", "target", "p1")
    assert second_source["image_id"] == target["image_id"]  # b.jpg is one image
    categories = {c["name"]: c for c in data["categories"]}
    assert len(categories["Cat"]["keypoints"]) == 4 and categories["object"]["keypoints"] == ["kp1"]
    assert data["info"]["coordinates"]["origin"] == "center_of_top_left_pixel"


def test_the_json_schema_matches_the_writer(document, tmp_path):
    """The published schema and document.py must not drift apart (no validator is installed, so the
    enumerations and property names are compared directly)."""
    schema = json.loads((Path(converters.__file__).parent / "sd-correspondence.schema.json").read_text())
    definitions = schema["$defs"]
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert definitions["keypoint"]["properties"]["status"]["enum"] == list(STATUSES)
    assert definitions["keypoint"]["properties"]["visibility"]["enum"] == list(VISIBILITIES)
    document.runs.append(Run("r1", {"backend": "sift"}))
    document.pairs[0].keypoints[0].predictions.append(Prediction("r1", (1.0, 2.0), 0.5))
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
