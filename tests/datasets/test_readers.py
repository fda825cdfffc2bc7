"""Dataset readers against miniature copies of each released layout, with hand-written expectations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.datasets import open_dataset
from engine.errors import DocumentError, SettingsError
from engine.prompts.categories import canonical_category
from tests.datasets.miniature import (
    literal_pair,
    synthetic_pairs,
    write_export,
    write_pfpascal,
    write_pfwillow,
    write_spair,
)

NAN = float("nan")


# ---- SPair-71k ----


def test_spair_reads_layout_lines_annotations_and_images(tmp_path):
    pair = literal_pair("cat", ("2008_000001", "2009_000002"), [[1, 2], [3.5, 4]], [[10, 20], [30, 40.25]])
    folder = write_spair(tmp_path, [pair])
    (sample,) = open_dataset("spair", folder, "test")
    assert sample.pair_id == "000001-2008_000001-2009_000002:cat"
    assert sample.category == "cat"
    assert sample.source_path == folder / "JPEGImages" / "cat" / "2008_000001.jpg"
    assert sample.target_path == folder / "JPEGImages" / "cat" / "2009_000002.jpg"
    np.testing.assert_array_equal(sample.source_points, [[1, 2], [3.5, 4]])
    np.testing.assert_array_equal(sample.target_points, [[10, 20], [30, 40.25]])
    assert sample.source_bbox == (1, 2, 30, 20) and sample.target_bbox == (3, 4, 40, 25)
    assert sample.threshold == "bbox" and not sample.flip
    assert sample.labels == ("0", "1")  # kps_ids, as the release writes them (strings)
    source, target = sample.load_images()
    assert (source.width, source.height, target.width, target.height) == (48, 32, 64, 40)
    # The parent of the release folder works too.
    assert open_dataset("spair", tmp_path)[0].pair_id == sample.pair_id


def test_spair_keeps_the_layout_order_and_splits(tmp_path):
    pairs = synthetic_pairs()
    write_spair(tmp_path, pairs[:2], split="val")
    folder = write_spair(tmp_path, pairs, split="test")
    test = open_dataset("spair", folder, "test")
    assert [s.pair_id[:6] for s in test] == [f"{i:06d}" for i in range(1, len(pairs) + 1)]
    assert len(open_dataset("spair", folder, "val")) == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: None, "no split 'trn'"),
        (lambda f: (f / "Layout/large/trn.txt").write_text("not-a-pair-line\n"), "is not '{id}-{source}-{target}"),
        (
            lambda f: (f / "Layout/large/trn.txt").write_text("000009-a-b:cat\n"),
            "PairAnnotation/trn/000009-a-b:cat.json",
        ),
    ],
)
def test_spair_errors_name_the_file(tmp_path, damage, message):
    folder = write_spair(tmp_path, synthetic_pairs()[:1])
    damage(folder)
    with pytest.raises(DocumentError, match=message.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        open_dataset("spair", folder, "trn")


def test_spair_malformed_annotation_and_missing_image(tmp_path):
    folder = write_spair(tmp_path, synthetic_pairs()[:1])
    annotation = next((folder / "PairAnnotation" / "test").glob("*.json"))
    data = json.loads(annotation.read_text())
    annotation.write_text(json.dumps(data | {"trg_bndbox": [1, 2, 3]}))
    with pytest.raises(DocumentError, match=f"'{annotation}' trg_bndbox must have 4 numbers"):
        open_dataset("spair", folder)
    annotation.write_text(json.dumps(data | {"kps_ids": ["0", "x"]}))
    with pytest.raises(DocumentError, match="kps_ids must be a list of keypoint ids"):
        open_dataset("spair", folder)
    annotation.write_text(json.dumps(data | {"kps_ids": list(range(len(data["src_kps"]) + 1))}))
    with pytest.raises(DocumentError, match="labels for"):
        open_dataset("spair", folder)
    annotation.write_text(json.dumps({key: value for key, value in data.items() if key != "kps_ids"}))
    (sample,) = open_dataset("spair", folder)
    assert sample.labels == ()  # optional: converted copies of the dataset often drop it
    annotation.write_text(json.dumps(data))
    next((folder / "JPEGImages" / "cat").glob("*.jpg")).unlink()
    with pytest.raises(DocumentError, match=r"image '.*\.jpg' listed in '.*test\.txt' does not exist"):
        open_dataset("spair", folder)


# ---- PF-Pascal ----


def test_pfpascal_keeps_points_valid_in_both_images(tmp_path):
    pair = literal_pair(
        "cat",
        ("2007_000001", "2007_000002"),
        [[1, 2], [NAN, NAN], [5, 6], [7, 8]],
        [[11, 12], [13, 14], [NAN, NAN], [17, 18]],
    )
    folder = write_pfpascal(tmp_path, [pair])
    (sample,) = open_dataset("pfpascal", tmp_path, "test")
    assert sample.pair_id == "2007_000001-2007_000002:cat" and sample.category == "cat"  # class 8 of VOC
    assert sample.source_path == folder / "PF-dataset-PASCAL" / "JPEGImages" / "2007_000001.jpg"
    np.testing.assert_array_equal(sample.source_points, [[1, 2], [7, 8]])
    np.testing.assert_array_equal(sample.target_points, [[11, 12], [17, 18]])
    assert sample.target_bbox == (3, 4, 40, 25) and sample.threshold == "image" and not sample.flip


def test_pfpascal_flip_mirrors_points_boxes_and_pixels(tmp_path):
    pair = literal_pair("person", ("2008_000001", "2008_000002"), [[0, 1], [47, 2]], [[10, 3], [63, 4]])
    write_pfpascal(tmp_path, [pair, pair], split="trn", flips=[0, 1])
    plain, flipped = open_dataset("pfpascal", tmp_path, "trn")
    assert flipped.flip and not plain.flip and flipped.pair_id == plain.pair_id + ":flip"
    # Source 48 px wide, target 64: x -> W - 1 - x maps pixel centres onto pixel centres.
    np.testing.assert_array_equal(flipped.source_points, [[47, 1], [0, 2]])
    np.testing.assert_array_equal(flipped.target_points, [[53, 3], [0, 4]])
    assert flipped.source_bbox == (17, 2, 46, 20) and flipped.target_bbox == (23, 4, 60, 25)
    (plain_source, _), (flipped_source, _) = plain.load_images(), flipped.load_images()
    np.testing.assert_array_equal(flipped_source.rgb, plain_source.rgb[:, ::-1])


def test_pfpascal_bad_class_and_missing_mat(tmp_path):
    folder = write_pfpascal(tmp_path, synthetic_pairs()[:1])
    csv = folder / "test_pairs.csv"
    csv.write_text(csv.read_text().replace(",8\n", ",21\n"))
    with pytest.raises(DocumentError, match=r"line 2: class 21 is not in 1\.\.20"):
        open_dataset("pfpascal", folder)
    csv.write_text(csv.read_text().replace(",21\n", ",8\n"))
    mat = next((folder / "PF-dataset-PASCAL" / "Annotations" / "cat").glob("*.mat"))
    mat.unlink()
    with pytest.raises(DocumentError, match=f"annotation file '{mat}' does not exist"):
        open_dataset("pfpascal", folder)


# ---- PF-Willow ----


def test_pfwillow_reads_ten_x_then_ten_y_and_keeps_subclass_names(tmp_path):
    source = [[x, 100 + x] for x in range(10)]
    target = [[20 + x, 200 + x] for x in range(10)]
    folder = write_pfwillow(tmp_path, [literal_pair("cat", ("Cars_000a", "Cars_001b"), source, target)])
    (sample,) = open_dataset("pfwillow", folder)
    assert sample.category == "car(G)" and canonical_category(sample.category) == "car"
    assert sample.pair_id == "Cars_000a-Cars_001b:car(G)"
    assert sample.source_path == folder / "PF-dataset" / "car(G)" / "Cars_000a.png"
    np.testing.assert_array_equal(sample.source_points, source)
    np.testing.assert_array_equal(sample.target_points, target)
    assert sample.threshold == "points" and sample.target_bbox is None


def test_pfwillow_has_only_a_test_split(tmp_path):
    folder = write_pfwillow(tmp_path, synthetic_pairs(points=10)[:1])
    with pytest.raises(DocumentError, match=r"no split 'trn'.*splits: test"):
        open_dataset("pfwillow", folder, "trn")


# ---- the project's own export ----


def test_export_ground_truth_is_what_a_person_approved(tmp_path):
    pairs = synthetic_pairs(points=4)[:3]
    statuses = [
        ["corrected", "accepted", "predicted", "rejected"],
        ["hidden", "corrected", "corrected", "predicted"],
        ["predicted", "rejected", "predicted", "hidden"],  # nothing approved: the pair is left out
    ]
    path = write_export(tmp_path / "annotations.json", pairs, statuses)
    samples = open_dataset("json", path)
    assert [s.pair_id for s in samples] == ["pair-0", "pair-1"]
    np.testing.assert_allclose(samples[0].source_points, pairs[0].source_points[:2])
    np.testing.assert_allclose(samples[1].target_points, pairs[1].target_points[1:3])
    assert samples[0].source_path == (tmp_path / "images" / f"{pairs[0].source.name}.png").resolve()
    assert samples[0].threshold == "bbox" and samples[0].target_bbox == pairs[0].target_bbox


def test_export_folders_and_several_files(tmp_path):
    pairs = synthetic_pairs()[:2]
    write_export(tmp_path / "a" / "one.json", pairs[:1])
    write_export(tmp_path / "a" / "two.json", pairs[1:], with_bbox=False)
    (tmp_path / "a" / "notes.json").write_text('{"not": "an export"}')
    samples = open_dataset("json", tmp_path / "a")
    assert [s.pair_id for s in samples] == ["one/pair-0", "two/pair-0"]
    assert samples[1].threshold == "image" and samples[1].target_bbox is None
    assert len(open_dataset("json", [tmp_path / "a" / "one.json", tmp_path / "a" / "two.json"])) == 2
    assert open_dataset("json", tmp_path / "a" / "one.json")[0].pair_id == "pair-0"


def test_export_errors(tmp_path):
    with pytest.raises(DocumentError, match="does not exist"):
        open_dataset("json", tmp_path / "missing.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentError, match="holds no sd-correspondence JSON files"):
        open_dataset("json", tmp_path / "empty")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "sd-correspondence", "schema_version": "2.0.0"}')
    with pytest.raises(DocumentError, match=f"'{bad}'.*schema version 2.0.0"):
        open_dataset("json", bad)


def test_unknown_kind_and_missing_folder(tmp_path):
    with pytest.raises(SettingsError, match="unknown dataset kind 'coco'"):
        open_dataset("coco", tmp_path)
    with pytest.raises(DocumentError, match=r"SPair-71k folder '.*nowhere' does not exist"):
        open_dataset("spair", tmp_path / "nowhere")
    with pytest.raises(DocumentError, match="is not a PF-Pascal folder"):
        open_dataset("pfpascal", tmp_path)
