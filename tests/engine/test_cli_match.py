"""``sd4match match`` end to end on the tiny model and the weights-free backend."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.export import CorrespondenceDocument
from engine.export.heatmaps import read_heatmap
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, TEST_SIZE

POINTS = "200,180;300,200.5;0,0;511,511"


def run_match(tmp_path, *extra: str, out: str = "out.json") -> tuple[int, dict | None]:
    code = main(["match", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", POINTS, "--out", str(tmp_path / out), *extra])
    path = tmp_path / out
    return code, json.loads(path.read_text()) if path.exists() else None


def tiny_args(sd, dinov2, prompts, *extra: str) -> list[str]:
    return [
        "--model", str(sd), "--dinov2", str(dinov2), "--prompts", str(prompts), "--backend", "sd",
        "--device", "cpu", "--dtype", "float32", "--size", str(TEST_SIZE), "--ensemble", "2", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "variant", [["--variant", "empty"], ["--variant", "text", "--category", "person"], ["--variant", "single"],
                ["--variant", "class", "--category", "person"], ["--variant", "cpm"]],
)  # fmt: skip
def test_every_variant_writes_the_documented_json(tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, variant):
    code, data = run_match(tmp_path, *tiny_args(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, *variant))
    assert code == 0
    assert data["schema"] == "sd-correspondence" and data["schema_version"].startswith("1.")
    keypoints = data["pairs"][0]["keypoints"]
    assert [k["src_xy"] for k in keypoints] == [[200, 180], [300, 200.5], [0, 0], [511, 511]]
    for keypoint in keypoints:
        x, y = keypoint["predictions"][0]["xy"]
        assert -0.5 <= x <= 511.5 and -0.5 <= y <= 599.5  # grace_hopper.jpg is 512 x 600
        assert 0 <= keypoint["predictions"][0]["confidence"] <= 1
    run = data["runs"][0]
    assert run["prompt"]["variant"] == variant[1] and run["features"]["timestep"] == 50
    assert run["matching"]["localisation"] == "kernel_softargmax"
    CorrespondenceDocument.load(tmp_path / "out.json")  # the reader accepts what the writer wrote


def test_outputs_are_bit_for_bit_reproducible(tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir):
    args = tiny_args(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, "--variant", "single")
    _, first = run_match(tmp_path, *args, out="a.json")
    _, second = run_match(tmp_path, *args, out="b.json")
    for one, two in zip(first["pairs"][0]["keypoints"], second["pairs"][0]["keypoints"], strict=True):
        assert one["predictions"] == two["predictions"]


def test_predictions_equal_the_library_api(tmp_path, tiny_matcher, demo_images):
    from engine import FeatureSettings, PromptSpec

    _, data = run_match(
        tmp_path, *tiny_args(tiny_matcher.sources.sd, tiny_matcher.sources.dinov2, tiny_matcher.sources.prompts)
    )
    pair = tiny_matcher.prepare(*demo_images, PromptSpec(), FeatureSettings(size=TEST_SIZE, ensemble=2))
    result = pair.match(np.array([[200, 180], [300, 200.5], [0, 0], [511, 511]]))
    cli = np.array([k["predictions"][0]["xy"] for k in data["pairs"][0]["keypoints"]])
    np.testing.assert_allclose(cli, result.match_xy, rtol=0, atol=1e-9)


def test_render_writes_a_png(tmp_path):
    code, _ = run_match(tmp_path, "--backend", "sift", "--render", str(tmp_path / "fig.png"))
    assert code == 0
    with Image.open(tmp_path / "fig.png") as figure:
        assert figure.width > 600 and figure.height > 400
        assert np.asarray(figure).std() > 10  # not blank


def test_heatmap_side_files_follow_the_documented_grid(tmp_path):
    """Each point's map is a .npy beside the JSON; with argmax localisation the prediction is the
    best cell's centre, mapped to pixels by the formula in engine/export/heatmaps.py."""
    code, data = run_match(tmp_path, "--backend", "sift", "--localisation", "argmax", "--heatmaps")
    assert code == 0
    run = data["runs"][0]
    size = run["features"]["size"]
    width, height = data["pairs"][0]["target"]["width"], data["pairs"][0]["target"]["height"]
    for keypoint in data["pairs"][0]["keypoints"]:
        prediction = keypoint["predictions"][0]
        assert re.fullmatch(
            rf"out_heatmaps-[0-9a-f]{{8}}/{data['pairs'][0]['pair_id']}_point{keypoint['id'] + 1}_r1\.npy",
            prediction["heatmap"],
        )
        heatmap = read_heatmap(tmp_path / "out.json", prediction["heatmap"])
        assert heatmap.dtype == np.float32 and heatmap.min() >= -1.0001 and heatmap.max() <= 1.0001
        h, w = heatmap.shape
        row, column = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
        expected = (column * (size - 1) / (w - 1) * width / size, row * (size - 1) / (h - 1) * height / size)
        np.testing.assert_allclose(prediction["xy"], expected, atol=1e-6)


def test_auto_backend_without_weights_says_so(tmp_path, capsys):
    code, data = run_match(tmp_path, "--model", str(tmp_path / "no-weights"))
    assert code == 0 and data["runs"][0]["backend"] == "sift"
    assert "using the weights-free dense SIFT backend" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--points", "600,10"], "point 0 (600, 10) is outside the source image 'astronaut.jpg'"),
        (["--points", "nan,3"], "not a finite number"),
        (["--points", "1;2"], "is not 'x,y'"),
        (["--backend", "sd", "--model", "/nonexistent/sd"], "Stable Diffusion 2-1 weights not found"),
    ],
)
def test_bad_input_is_one_line_and_leaves_the_old_output(tmp_path, capsys, extra, message):
    (tmp_path / "out.json").write_text("previous result")
    arguments = ["match", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "1,1", "--out", str(tmp_path / "out.json")]
    code = main([*arguments, "--backend", "sift", *extra] if "--backend" not in extra else [*arguments, *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and err[-1].startswith("sd4match match: error:")
    assert (tmp_path / "out.json").read_text() == "previous result"
    assert not list(tmp_path.glob(".*.tmp"))


def test_class_without_category(tmp_path, capsys, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir):
    code, _ = run_match(tmp_path, *tiny_args(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir, "--variant", "class"))
    assert code == 2 and "needs a category" in capsys.readouterr().err


def test_corrupt_image_names_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    code = main(["match", str(bad), str(DEMO_TARGET), "--points", "1,1", "--out", str(tmp_path / "o.json")])
    assert code == 2 and "broken.jpg" in capsys.readouterr().err


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "engine", "--help"], capture_output=True, text=True, check=True)
    for command in ("match", "download", "prompts"):
        assert command in done.stdout
