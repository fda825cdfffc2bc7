"""``sd4match tune`` refuses bad input before the models load, and a diverging run stops unsaved."""

from __future__ import annotations

import pytest
import torch

import engine.training.step as training_step
from engine.cli import main
from engine.errors import SettingsError
from engine.matcher import Matcher
from engine.training import TrainingConfig
from engine.training.checkpoint import RunFolder, TrainingState
from tests.engine.test_validation import deeply_nested, one_line_error, read_only_place
from tests.training.test_cli_tune import tune_args


def error_line(capsys) -> str:
    """The one error line (tune prints what it is about to train first), with no traceback."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize(
    "change",
    [{"temperature": 1e-300}, {"temperature": float("nan")}, {"learning_rate": float("nan")},
     {"learning_rate": float("inf")}, {"sigma": 1e300}, {"alpha": 2.0}, {"layer": 4}, {"epochs": 1.5}],
)  # fmt: skip
def test_training_settings_outside_their_range_are_refused(change):
    with pytest.raises(SettingsError):
        TrainingConfig("single", "toy", **change)


@pytest.fixture
def refuse_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(Matcher, "stable_diffusion", refuse)
    monkeypatch.setattr(Matcher, "dinov2", refuse)


def test_tune_refuses_deeply_nested_json_in_one_line(tmp_path, capsys, refuse_loading, tiny_sd_dir, tiny_dinov2_dir):
    deep = deeply_nested(tmp_path / "deep.json")
    assert main(tune_args("single", deep, tiny_sd_dir, tiny_dinov2_dir, tmp_path / "prompts")) == 2
    assert "nests JSON too deeply" in one_line_error(capsys)


def test_tune_refuses_an_unwritable_library_before_loading(
    tmp_path, capsys, refuse_loading, toy_export, tiny_sd_dir, tiny_dinov2_dir
):
    library = read_only_place() / "prompts"
    assert main(tune_args("single", toy_export, tiny_sd_dir, tiny_dinov2_dir, library)) == 2
    assert "--prompts" in one_line_error(capsys)


def test_tune_refuses_an_incompatible_resume_before_loading(
    tmp_path, capsys, refuse_loading, toy_export, tiny_sd_dir, tiny_dinov2_dir
):
    library = tmp_path / "prompts"
    saved = TrainingConfig("single", "toy", learning_rate=0.5).to_dict()
    run = RunFolder(library, "single", "toy")
    run.folder.mkdir(parents=True)
    TrainingState(1, {}, {}, None, [], [0.5], saved, {}, ["dataset"]).save(run.resume_file)
    assert main([*tune_args("single", toy_export, tiny_sd_dir, tiny_dinov2_dir, library), "--resume"]) == 2
    assert "learning_rate" in error_line(capsys)


def nan_loss(monkeypatch) -> None:
    real = training_step.pair_loss

    def diverging(*args, **kwargs):
        return real(*args, **kwargs) * float("nan")

    monkeypatch.setattr(training_step, "pair_loss", diverging)


def exploding_optimiser(monkeypatch) -> None:
    real = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        with torch.no_grad():
            for group in self.param_groups:
                for parameter in group["params"]:
                    parameter.fill_(float("inf"))
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", step)


@pytest.mark.parametrize("breakage", [nan_loss, exploding_optimiser])
def test_a_diverging_run_stops_with_a_message_and_saves_nothing(
    tmp_path, capsys, monkeypatch, toy_export, tiny_sd_dir, tiny_dinov2_dir, breakage
):
    breakage(monkeypatch)
    library = tmp_path / "prompts"
    assert main(tune_args("single", toy_export, tiny_sd_dir, tiny_dinov2_dir, library)) == 2
    assert "training diverged at step 1" in error_line(capsys)
    folder = RunFolder(library, "single", "toy").folder
    assert not any(folder.glob("*.pt")), list(folder.glob("*"))  # neither the prompt nor a resume state


@pytest.mark.parametrize("flag", ["--limit", "--val-limit"])
def test_tune_refuses_counts_below_one_before_reading_data(tmp_path, capsys, refuse_loading, flag):
    missing = tmp_path / "no-such-export.json"
    assert main(tune_args("single", missing, tmp_path, tmp_path, tmp_path / "prompts", flag, "0")) == 2
    assert f"{flag} must be at least 1" in error_line(capsys)
