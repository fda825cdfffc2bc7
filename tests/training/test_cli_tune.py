"""``sd4match tune`` end to end: files a released-prompt loader uses, and one process vs two under accelerate."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import resolve_runtime
from engine.cli import main
from engine.models.stable_diffusion import load_stable_diffusion
from engine.prompts.text_encoder import TextConditioner
from engine.training.prompt_modules import TokenPrompts
from tests.conftest import REPO, TEST_SIZE, free_port


def tune_args(variant: str, export: Path, sd: Path, dinov2: Path, library: Path, *extra: str) -> list[str]:
    return [
        "tune", variant, "json", str(export), "--prompt-set", "toy", "--prompts", str(library),
        "--model", str(sd), "--dinov2", str(dinov2), "--device", "cpu", "--dtype", "float32",
        "--size", str(TEST_SIZE), "--batch-size", "2", "--epochs", "2", *extra,
    ]  # fmt: skip


def test_tuned_class_prompt_is_used_by_match(
    tiny_sd_dir: Path, tiny_dinov2_dir: Path, toy_export: Path, toy_validation_export: Path, tmp_path: Path, capsys
) -> None:
    library = tmp_path / "prompts"
    args = tune_args("class", toy_export, tiny_sd_dir, tiny_dinov2_dir, library, "--val", str(toy_validation_export))
    assert main(args) == 0
    folder = library / "Class_toy_sd2-1_TokenEmbeds75"
    assert (folder / "caption.pt").is_file() and (folder / "resume.pt").is_file()
    sidecar = json.loads((folder / "training.json").read_text())
    assert sidecar["data"]["validation"]["pairs"] == 2 and len(sidecar["history"]) == 2
    assert "epoch 2:" in capsys.readouterr().err

    # A second run of the same set must be asked for explicitly.
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0  # already finished: nothing to do, files unchanged

    source, target = sorted(toy_export.parent.glob("*-0-?.png"))
    out = tmp_path / "match.json"
    match = [
        "match", str(source), str(target), "--points", "10,10", "--out", str(out), "--variant", "class",
        "--category", "cat", "--prompt-set", "toy", "--prompts", str(library), "--model", str(tiny_sd_dir),
        "--device", "cpu", "--dtype", "float32", "--size", str(TEST_SIZE), "--ensemble", "1",
    ]  # fmt: skip
    assert main(match) == 0
    prompt = json.loads(out.read_text())["runs"][0]["prompt"]
    assert prompt["file"] == str(folder / "caption.pt") and prompt["category"] == "cat"


def test_two_processes_learn_what_one_learns_with_the_same_global_batch(
    tiny_sd_dir: Path, tiny_dinov2_dir: Path, toy_export: Path, tmp_path: Path
) -> None:
    common = tune_args("single", toy_export, tiny_sd_dir, tiny_dinov2_dir, tmp_path / "two")
    # Without GPUs, --multi_gpu still starts the processes; they meet over gloo (--cpu would start only one).
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--main_process_port", str(free_port()), "-m", "engine"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    two = subprocess.run([*launch, *common], cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert main(tune_args("single", toy_export, tiny_sd_dir, tiny_dinov2_dir, tmp_path / "one")) == 0

    folder = "Single_toy_sd2-1_TokenEmbeds75"
    prompts = [torch.load(tmp_path / run / folder / "caption.pt")["dataset"] for run in ("one", "two")]
    parts = load_stable_diffusion(str(tiny_sd_dir), resolve_runtime("cpu", "float32"))
    conditioner = TextConditioner(parts.tokenizer, parts.text_encoder, contextlib.nullcontext)
    initial = TokenPrompts.initialise(["dataset"], conditioner, seed=0).tokens[0]
    assert not torch.allclose(prompts[0][0, 1:-1], initial, atol=1e-3)  # the steps did move the prompt
    assert torch.allclose(prompts[0], prompts[1], atol=1e-5)
    sidecars = [json.loads((tmp_path / run / folder / "training.json").read_text()) for run in ("one", "two")]
    assert [sidecar["runtime"]["processes"] for sidecar in sidecars] == [1, 2]
    assert [entry["train_loss"] for entry in sidecars[0]["history"]] == pytest.approx(
        [entry["train_loss"] for entry in sidecars[1]["history"]], rel=1e-5
    )
