"""Bad input is refused where it enters, in one line, before any model loads; NaN is never a result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from engine.cli import main
from engine.cli.outputs import check_distinct_outputs
from engine.errors import DocumentError, NumericError, PromptError, SettingsError
from engine.export import CorrespondenceDocument, ImageRef, Keypoint, PairRecord
from engine.export.document import Prediction
from engine.localisation import localise
from engine.matcher import Matcher
from engine.prompts.files import read_prompt_file
from engine.settings import SIGMA_RANGE, TEMPERATURE_RANGE, FeatureSettings, LocalisationSettings
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, write_prompt_library
from tests.datasets.miniature import synthetic_pairs, write_export, write_spair

READ_ONLY = Path("/sys/sd4match-test")  # sysfs refuses new files even to root


def read_only_place() -> Path:
    """A folder no file can be created in: sysfs, or a chmod-ed folder when not root."""
    try:
        (READ_ONLY / "probe").touch()
    except OSError:
        return READ_ONLY
    pytest.skip("no read-only place on this machine")


@pytest.fixture
def no_models(monkeypatch):
    """Fail the test if anything loads a model or computes a feature map."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded or a pair computed before the input was checked")

    for name in ("stable_diffusion", "dinov2", "prepare"):
        monkeypatch.setattr(Matcher, name, refuse)


def match_args(out: Path, *extra: str, points: str = "10,10") -> list[str]:
    return ["match", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", points, "--out", str(out), *extra]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---- settings: finite and in range where they enter ----


@pytest.mark.parametrize("sigma", [1e-300, float("nan"), float("inf"), 1e300, 0.0, -1.0, "7", True])
def test_sigma_outside_its_range_is_refused(sigma):
    with pytest.raises(SettingsError, match="sigma"):
        LocalisationSettings(sigma=sigma)


@pytest.mark.parametrize("temperature", [1e-300, float("nan"), float("inf"), 1e300, 0.0, -0.04])
def test_temperature_outside_its_range_is_refused(temperature):
    with pytest.raises(SettingsError, match="temperature"):
        LocalisationSettings(temperature=temperature)


@pytest.mark.parametrize("method", ["kernel", "softargmax"])
@pytest.mark.parametrize("sigma", SIGMA_RANGE)
@pytest.mark.parametrize("temperature", TEMPERATURE_RANGE)
def test_every_allowed_setting_gives_a_finite_prediction(method, sigma, temperature):
    """The bounds are where exp and softmax still work in float32: cosine scores in [-1, 1]."""
    scores = torch.rand(3, 48, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    scores[1] = 1.0  # a flat map
    points, probabilities = localise(scores, method, sigma, temperature)
    assert torch.isfinite(points).all() and torch.isfinite(probabilities).all()
    torch.testing.assert_close(probabilities.sum((1, 2)), torch.ones(3))


@pytest.mark.parametrize(
    "data",
    ["x", {"layer": "1"}, {"layer": 4}, {"timestep": 1000}, {"extra_timesteps": 5}, {"dual_layer": "x"},
     {"dual_layer": {"second_layer": 9}}, {"size": 256.5}, {"size": 100_000}, {"ensemble": None}],
)  # fmt: skip
def test_malformed_feature_settings_are_a_settings_error(data):
    with pytest.raises(SettingsError):
        FeatureSettings.from_dict(data)


@pytest.mark.parametrize(
    "extra",
    [["--sigma", "1e-300"], ["--sigma", "nan"], ["--sigma", "1e300"], ["--sigma", "inf"],
     ["--temperature", "1e-300", "--localisation", "softargmax"], ["--temperature", "nan"],
     ["--layer", "4"], ["--timestep", "1000"], ["--timestep", "-1"], ["--size", "100000"], ["--size", "2056"]],
)  # fmt: skip
def test_match_refuses_bad_settings_in_one_line_before_any_work(tmp_path, capsys, no_models, extra):
    assert main(match_args(tmp_path / "out.json", "--backend", "sift", *extra)) == 2
    line = one_line_error(capsys)
    assert line.startswith("sd4match match: error: ") and extra[0].lstrip("-") in line
    assert not (tmp_path / "out.json").exists()


# ---- NaN never reaches a file ----


def test_non_finite_scores_raise_instead_of_predicting():
    scores = torch.zeros(2, 8, 8)
    scores[1, 3, 3] = float("nan")
    for method in ("kernel", "argmax", "softargmax"):
        with pytest.raises(NumericError, match="NaN"):
            localise(scores, method, 7.0, 0.04)


def test_document_writer_refuses_nan_and_names_the_field(tmp_path):
    keypoint = Keypoint(0, (1.0, 2.0), (3.0, 4.0), predictions=[Prediction("r1", (float("nan"), 4.0), 0.5)])
    record = PairRecord("p", ImageRef(tmp_path / "a.png", 8, 8), ImageRef(tmp_path / "b.png", 8, 8), None, [keypoint])
    path = tmp_path / "out.json"
    with pytest.raises(DocumentError, match=r"pairs\[0\]\.keypoints\[0\]\.predictions\[0\]\.xy\[0\] is nan"):
        CorrespondenceDocument(pairs=[record]).save(path)
    assert not path.exists()


def nan_caption(folder: Path) -> Path:
    tensor = torch.randn(1, 77, 32)
    tensor[0, 5, 7] = float("nan")
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"dataset": tensor}, folder / "caption.pt")
    return folder / "caption.pt"


def test_prompt_file_holding_nan_is_refused_on_reading(tmp_path):
    with pytest.raises(PromptError, match="'dataset' holds NaN"):
        read_prompt_file(nan_caption(tmp_path).read_bytes(), "caption.pt")


def test_match_with_a_nan_prompt_fails_before_loading_the_model(tmp_path, capsys, no_models, tiny_sd_dir):
    caption = nan_caption(tmp_path / "prompt")
    args = ["--backend", "sd", "--model", str(tiny_sd_dir), "--variant", "single", "--prompts", str(caption)]
    assert main(match_args(tmp_path / "out.json", *args)) == 2
    assert "holds NaN or infinite values" in one_line_error(capsys)
    assert not (tmp_path / "out.json").exists()


# ---- --points with negative values ----


def test_points_may_start_with_a_minus_sign(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(match_args(out, "--backend", "sift", points="-0.25,5;-0.5,-0.5")) == 0
    keypoints = json.loads(out.read_text())["pairs"][0]["keypoints"]
    assert [k["src_xy"] for k in keypoints] == [[-0.25, 5], [-0.5, -0.5]]
    assert main(match_args(out, "--backend", "sift", points="-3,5")) == 2
    assert "outside the source image" in one_line_error(capsys)


# ---- outputs checked before any work ----


def unwritable_outputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("x")
    return {"folder": tmp_path, "under a file": tmp_path / "a-file" / "out.json"}


@pytest.mark.parametrize("case", ["folder", "under a file", "read-only"])
@pytest.mark.parametrize("flag", ["--out", "--render"])
def test_match_refuses_an_unwritable_output_before_any_work(tmp_path, capsys, no_models, case, flag):
    bad = read_only_place() / "out.json" if case == "read-only" else unwritable_outputs(tmp_path)[case]
    good = tmp_path / "good.json"
    args = match_args(bad if flag == "--out" else good, "--backend", "sift")
    if flag == "--render":
        args += ["--render", str(bad)]
    assert main(args) == 2
    line = one_line_error(capsys)
    assert flag in line and ("cannot be written" in line or "it is a directory" in line)
    assert not good.exists()


def test_compare_refuses_an_unwritable_json_before_any_work(tmp_path, capsys, no_models):
    outputs = unwritable_outputs(tmp_path)
    args = ["compare", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "10,10", "--variants", "sift"]
    assert main([*args, "--out", str(tmp_path / "fig.png"), "--json", str(outputs["under a file"])]) == 2
    assert "--json" in one_line_error(capsys)
    assert main([*args, "--out", str(outputs["folder"])]) == 2
    assert "--out" in one_line_error(capsys)


def test_two_outputs_naming_the_same_file_are_refused_before_any_work(tmp_path, capsys, no_models):
    same = tmp_path / "result.json"
    same.write_text("kept")
    (tmp_path / "link.json").symlink_to(same)
    assert main(match_args(same, "--backend", "sift", "--render", str(tmp_path / "link.json"))) == 2
    assert "--out and --render name the same file" in one_line_error(capsys)
    args = ["compare", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "10,10", "--variants", "sift"]
    assert main([*args, "--out", str(same), "--json", str(same)]) == 2
    assert "--out and --json name the same file" in one_line_error(capsys)
    assert same.read_text() == "kept"
    check_distinct_outputs({"--out": Path(os.devnull), "--render": Path(os.devnull)})  # streams: fine


def test_eval_refuses_an_unwritable_out_before_reading_the_dataset(tmp_path, capsys, no_models):
    outputs = unwritable_outputs(tmp_path)
    missing_dataset = tmp_path / "no-such-dataset"
    assert (
        main(["eval", "spair", str(missing_dataset), "--out", str(outputs["under a file"]), "--backend", "sift"]) == 2
    )
    assert "--out" in one_line_error(capsys)
    assert main(["eval", "spair", str(missing_dataset), "--out", str(read_only_place()), "--backend", "sift"]) == 2
    assert "--out" in one_line_error(capsys)


# ---- prompts, categories, layers and timesteps before the model loads ----


@pytest.fixture(scope="module")
def cat_only_library(tmp_path_factory) -> Path:
    """A library whose Class prompt knows only "cat"."""
    root = write_prompt_library(tmp_path_factory.mktemp("cat-only"))
    torch.save({"cat": torch.randn(1, 77, 32)}, root / "Class_spair_sd2-1_TokenEmbeds75" / "caption.pt")
    return root


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--variant", "single", "--prompt-set", "nope"], "no learned 'single' prompt for set 'nope'"),
     (["--variant", "class", "--category", "person"], "no Class prompt for category 'person'"),
     (["--variant", "class"], "needs a category"),
     (["--variant", "text", "--text", "a {category}"], "needs a category"),
     (["--variant", "single", "--prompts", "missing.pt"], "does not exist"),
     (["--variant", "cpm", "--dinov2", "/no/such/dinov2"], "DINOv2")],
)  # fmt: skip
def test_match_reports_prompt_problems_before_loading_the_model(
    tmp_path, capsys, no_models, tiny_sd_dir, cat_only_library, extra, message
):
    args = ["--backend", "sd", "--model", str(tiny_sd_dir), "--prompts", str(cat_only_library)]
    assert main(match_args(tmp_path / "out.json", *args, *extra)) == 2
    assert message in one_line_error(capsys)


def test_eval_reports_a_category_without_class_prompt_before_loading_the_model(
    tmp_path, capsys, no_models, tiny_sd_dir, cat_only_library
):
    root = write_spair(tmp_path / "spair", synthetic_pairs())  # categories cat and person
    args = ["eval", "spair", str(root), "--out", str(tmp_path / "out"), "--backend", "sd", "--variant", "class"]
    assert main([*args, "--model", str(tiny_sd_dir), "--prompts", str(cat_only_library)]) == 2
    assert "no Class prompt for category 'person'" in one_line_error(capsys)


# ---- hostile annotation files ----


def deeply_nested(path: Path) -> Path:
    depth = 200_000
    path.write_text('{"schema": "sd-correspondence", "x": ' + "[" * depth + "]" * depth + "}")
    return path


@pytest.mark.parametrize("as_folder", [False, True])
def test_eval_json_refuses_deeply_nested_json_in_one_line(tmp_path, capsys, no_models, as_folder):
    path = deeply_nested(tmp_path / "deep.json")
    assert main(["eval", "json", str(tmp_path if as_folder else path), "--out", str(tmp_path / "out")]) == 2
    assert "nests JSON too deeply" in one_line_error(capsys)


def nodes(tree, path=()):
    yield path
    children = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in children:
        yield from nodes(value, (*path, key))


def replaced(tree, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(tree))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


WRONG_VALUES = ["x", "", 7, -1, 1.5, [], [1], {}, {"a": 1}, None, True]


def test_every_malformed_field_of_an_export_is_a_document_error(tmp_path):
    """Each node of a valid export replaced by each wrong JSON type: the reader and the dataset
    reader of `eval json` / `tune json` raise DocumentError (or accept the value), nothing else."""
    from engine.datasets.exported import read_exported

    path = write_export(tmp_path / "export.json", synthetic_pairs(("cat",), images_per_category=2, points=2))
    valid = json.loads(path.read_text())
    valid["runs"] = [{"run_id": "r1", "matching": {"sigma": 7.0}}]
    valid["pairs"][0]["keypoints"][0]["predictions"] = [{"run_id": "r1", "xy": [1, 2], "confidence": 0.5}]
    broken = tmp_path / "broken.json"
    for node in nodes(valid):
        for value in WRONG_VALUES:
            broken.write_text(json.dumps(replaced(valid, node, value)))
            for reader in (CorrespondenceDocument.load, read_exported):
                try:
                    reader(broken)
                except DocumentError as exc:
                    assert "\n" not in str(exc)
                except Exception as exc:  # any other type is the failure this test looks for
                    pytest.fail(f"{reader.__name__}: {node} = {value!r} raised {type(exc).__name__}: {exc}")


HUGE_INTEGERS = ("1" * 400, "1" * 5000)  # too large for a float; over Python's 4,300-digit parsing limit


def numeric_nodes(tree):
    """Paths of the numbers (not bools) in a JSON tree."""
    for node in nodes(tree):
        value = tree
        for key in node:
            value = value[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield node


def with_huge_integer(tree, node, digits: str) -> str:
    """JSON text of ``tree`` with the number at ``node`` replaced by ``digits`` (json.dumps cannot write 5,000)."""
    return json.dumps(replaced(tree, node, "HUGE")).replace('"HUGE"', digits)


def test_huge_integers_in_an_export_are_a_document_error(tmp_path):
    from engine.datasets.exported import read_exported

    path = write_export(tmp_path / "export.json", synthetic_pairs(("cat",), images_per_category=2, points=2))
    valid = json.loads(path.read_text())
    valid["pairs"][0]["keypoints"][0]["predictions"] = [{"run_id": "r1", "xy": [1, 2], "confidence": 0.5}]
    broken = tmp_path / "broken.json"
    for node in numeric_nodes(valid):
        for digits in HUGE_INTEGERS:
            broken.write_text(with_huge_integer(valid, node, digits))
            for reader in (CorrespondenceDocument.load, read_exported):
                try:
                    reader(broken)
                except DocumentError as exc:
                    assert "\n" not in str(exc) and "broken.json" in str(exc)
                except Exception as exc:  # any other type is the failure this test looks for
                    pytest.fail(f"{reader.__name__}: {node} = {len(digits)} digits: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("digits", HUGE_INTEGERS)
@pytest.mark.parametrize("field", ["trg_kps", "src_bndbox"])
def test_huge_integers_in_spair_annotations_are_a_document_error(tmp_path, field, digits):
    from engine.datasets import open_dataset

    folder = write_spair(tmp_path, synthetic_pairs(("cat",), images_per_category=2, points=2))
    (annotation,) = (folder / "PairAnnotation" / "test").glob("*.json")
    data = json.loads(annotation.read_text())
    annotation.write_text(with_huge_integer(data, (field, 0, 0) if field == "trg_kps" else (field, 0), digits))
    with pytest.raises(DocumentError) as caught:
        list(open_dataset("spair", tmp_path, "test"))
    assert annotation.name in str(caught.value) and "\n" not in str(caught.value)


def test_the_writability_probe_leaves_nothing_behind(tmp_path, capsys, no_models):
    out = tmp_path / "out.json"
    assert main(["match", str(tmp_path / "missing.jpg"), str(DEMO_TARGET), "--points", "1,1", "--out", str(out)]) == 2
    assert "missing.jpg" in one_line_error(capsys)  # failed after the output check, at the image
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("flag", ["--limit", "--save-every"])
def test_eval_refuses_counts_below_one_before_reading_the_dataset(tmp_path, capsys, no_models, flag):
    args = ["eval", "spair", str(tmp_path / "no-such-dataset"), "--out", str(tmp_path / "out"), flag, "0"]
    assert main(args) == 2
    assert f"{flag} must be at least 1" in one_line_error(capsys)


def test_compare_refuses_zero_columns_before_any_work(tmp_path, capsys, no_models):
    args = ["compare", str(DEMO_SOURCE), str(DEMO_TARGET), "--points", "10,10", "--variants", "sift"]
    assert main([*args, "--out", str(tmp_path / "fig.png"), "--columns", "0"]) == 2
    assert "--columns must be at least 1" in one_line_error(capsys)
