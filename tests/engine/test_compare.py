"""``sd4match compare`` and the spread between variants."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from engine.cli import main
from engine.comparison import prediction_spread
from engine.export.heatmaps import read_heatmap
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, TEST_SIZE


def test_spread_is_the_largest_pairwise_distance():
    predictions = np.array([[[0, 0], [10, 10]], [[3, 4], [10, 10]], [[0, 8], [10, 11]]], dtype=float)
    pixels, fraction = prediction_spread(predictions, width=200, height=100)
    np.testing.assert_allclose(pixels, [8.0, 1.0])  # point 1: (0,0)-(0,8); point 2: (10,10)-(10,11)
    np.testing.assert_allclose(fraction, [0.04, 0.005])
    assert prediction_spread(predictions[:1], 200, 100)[0].tolist() == [0.0, 0.0]


def test_compare_writes_a_figure_and_every_variants_predictions(
    tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir
):
    code = main([
        "compare", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "200,180;300,200", "--category", "person",
        "--variants", "sift,single,class,cpm,text@t=261@dual", "--out", str(tmp_path / "fig.png"),
        "--json", str(tmp_path / "all.json"), "--model", str(tiny_sd_dir), "--dinov2", str(tiny_dinov2_dir),
        "--prompts", str(tiny_prompts_dir), "--device", "cpu", "--dtype", "float32", "--size", str(TEST_SIZE),
        "--ensemble", "1", "--columns", "3", "--heatmaps",
    ])  # fmt: skip
    assert code == 0
    with Image.open(tmp_path / "fig.png") as figure:
        assert figure.height > 2 * 480  # 6 panels in rows of 3
        assert np.asarray(figure).std() > 10
    data = json.loads((tmp_path / "all.json").read_text())
    assert [run["run_id"] for run in data["runs"]] == ["sift", "single", "class", "cpm", "text@t=261@dual"]
    assert data["runs"][4]["features"]["dual_layer"]["second_layer"] == 2
    for keypoint in data["pairs"][0]["keypoints"]:
        assert [p["run_id"] for p in keypoint["predictions"]] == [run["run_id"] for run in data["runs"]]
        heatmaps = [read_heatmap(tmp_path / "all.json", p["heatmap"]) for p in keypoint["predictions"]]
        assert len({p["heatmap"] for p in keypoint["predictions"]}) == 5  # one file per variant
        assert not np.array_equal(heatmaps[0], heatmaps[1])  # each variant its own map


def test_heatmap_files_need_the_json_that_names_them(tmp_path, capsys):
    code = main([
        "compare", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "200,180", "--variants", "sift",
        "--out", str(tmp_path / "fig.png"), "--heatmaps",
    ])  # fmt: skip
    assert code != 0 and "--heatmaps needs --json" in capsys.readouterr().err
    assert not (tmp_path / "fig.png").exists() and not list(tmp_path.glob("*heatmaps"))
