"""Keypoint schemas: built-ins, file round trip, COCO import, and errors that name the field."""

from __future__ import annotations

import json

import pytest

from engine.collections.schema import (
    COCO_PERSON,
    COCO_PERSON_SKELETON,
    KeypointSchema,
    SchemaError,
    import_coco_schema,
    load_schema,
    numbered_schema,
    save_schema,
)
from engine.errors import DocumentError, EngineError


def test_coco_person_has_cocos_17_names_and_19_links():
    assert len(COCO_PERSON.keypoints) == 17 and COCO_PERSON.keypoints[0] == "nose"
    assert COCO_PERSON.keypoints[-1] == "right_ankle"
    assert COCO_PERSON.coco_skeleton() == [list(link) for link in COCO_PERSON_SKELETON]
    assert ("left_ankle", "left_knee") in COCO_PERSON.skeleton  # COCO's first link, [16, 14]


def test_numbered_default():
    schema = numbered_schema(3)
    assert schema.keypoints == ("1", "2", "3") and schema.skeleton == () and schema.name == "object"
    with pytest.raises(SchemaError, match="at least one keypoint"):
        numbered_schema(0)


def test_save_and_load_round_trip_atomically(tmp_path):
    schema = KeypointSchema("bird", ("beak", "left eye", "tail"), (("beak", "tail"),), {"beak": "#ff8800"})
    path = tmp_path / "schemas" / "bird.json"
    save_schema(schema, path)
    assert load_schema(path) == schema
    assert json.loads(path.read_text())["skeleton"] == [["beak", "tail"]]
    assert [p.name for p in path.parent.iterdir()] == ["bird.json"]  # no temporary file left


def test_import_from_a_coco_keypoints_file(tmp_path):
    coco = {
        "images": [], "annotations": [],
        "categories": [
            {"id": 1, "name": "car", "supercategory": "vehicle"},
            {"id": 3, "name": "person", "keypoints": list(COCO_PERSON.keypoints),
             "skeleton": [list(link) for link in COCO_PERSON_SKELETON]},
        ],
    }  # fmt: skip
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(coco))
    assert import_coco_schema(path) == COCO_PERSON  # the first category with keypoints
    assert import_coco_schema(path, "person") == import_coco_schema(path, 3) == COCO_PERSON
    with pytest.raises(SchemaError, match="no category named or numbered 'dog'"):
        import_coco_schema(path, "dog")
    coco["categories"][1]["skeleton"] = [[1, 18]]
    path.write_text(json.dumps(coco))
    with pytest.raises(SchemaError, match=r"categories\[1\]\.skeleton\[0\] must be two 1-based keypoint indices"):
        import_coco_schema(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "labelme"}, 'missing "schema": "sd4match-keypoints"'),
        ({"version": 2}, "version is 2"),
        ({"name": ""}, "name must be a non-empty string"),
        ({"keypoints": "a,b"}, "keypoints must be a list"),
        ({"keypoints": []}, "keypoints must hold at least one name"),
        ({"keypoints": ["a", 7]}, r"keypoints\[1\] must be a non-empty string"),
        ({"keypoints": ["a", "b", "a"]}, r"keypoints\[2\] 'a' repeats an earlier name"),
        ({"skeleton": [["a", "z"]]}, r"skeleton\[0\] names 'z', which is not in keypoints"),
        ({"skeleton": [["a"]]}, r"skeleton\[0\] must be a \[name, name\] pair"),
        ({"skeleton": [["a", "a"]]}, r"skeleton\[0\] joins 'a' to itself"),
        ({"colours": {"a": "red"}}, r"colours\['a'\] must be '#rrggbb'"),
        ({"colours": {"q": "#000000"}}, "colours names 'q'"),
    ],
)
def test_malformed_files_name_the_field(tmp_path, change, message):
    data = {"schema": "sd4match-keypoints", "version": 1, "name": "x", "keypoints": ["a", "b"]} | change
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaError, match=message) as caught:
        load_schema(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, DocumentError | EngineError)


def test_unreadable_files(tmp_path):
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(tmp_path / "broken.json")
