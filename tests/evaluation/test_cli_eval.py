"""``sd4match eval`` end to end: reports, tiny-model variants, resume after a hard kill, data parallelism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

import engine.evaluation.runner as runner
from engine.cli import main
from tests.conftest import REPO, TEST_SIZE, free_port
from tests.datasets.miniature import synthetic_pairs, write_export, write_spair

PAIRS = 6


@pytest.fixture(scope="module")
def spair(tmp_path_factory):
    return write_spair(tmp_path_factory.mktemp("spair"), synthetic_pairs())


def sift_args(root, out, *extra: str) -> list[str]:
    return ["eval", "spair", str(root), "--out", str(out), "--backend", "sift", "--size", str(TEST_SIZE), *extra]


def variants(out) -> list[dict]:
    """The deterministic part of results.json (everything but timestamps)."""
    return json.loads((out / "results.json").read_text())["variants"]


def count_scored(monkeypatch) -> list[str]:
    """Record the pair ids the runner computes (not resumed ones)."""
    real, scored = runner.score_sample, []

    def counting(matcher, sample, *args):
        scored.append(sample.pair_id)
        return real(matcher, sample, *args)

    monkeypatch.setattr(runner, "score_sample", counting)
    return scored


def test_sift_run_writes_json_markdown_and_chart(spair, tmp_path, capsys):
    assert main(sift_args(spair, tmp_path)) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["dataset"] | {"root": None} == {
        "kind": "spair", "root": None, "split": "test", "pairs": PAIRS, "pairs_in_split": PAIRS, "limit": None,
    }  # fmt: skip
    (variant,) = data["variants"]
    assert variant["name"] == "sift" and len(variant["pairs"]) == PAIRS
    for frame in ("square", "pixels"):
        assert list(variant["summary"][frame]) == ["cat", "person", "all"]
        assert variant["summary"][frame]["all"]["pairs"] == PAIRS
        assert variant["summary"][frame]["all"]["points"] == PAIRS * 6
    markdown = (tmp_path / "results.md").read_text()
    assert "## squashed S x S frame (comparable with the paper), mean over pairs" in markdown
    assert "## original pixels (what a user sees), mean over points" in markdown
    assert markdown.count("| **all** | 6 |") == 2 and markdown.count("| **all** | 36 |") == 2
    chart = Image.open(tmp_path / "pck.png")
    assert chart.format == "PNG" and chart.width > 200 and chart.height > 300
    output = capsys.readouterr().out
    assert "sift: PCK@0.05/0.1/0.15 square" in output and "6 extracted, 6 reused; 1 process(es)" in output


def test_own_annotations_from_several_files(tmp_path):
    pairs = synthetic_pairs()
    for pair in pairs[3:]:
        pair.category = ""  # annotations need not name a category
    one = write_export(tmp_path / "one.json", pairs[:3])
    two = write_export(tmp_path / "two.json", pairs[3:], with_bbox=False)
    assert main(["eval", "json", str(one), str(two), "--out", str(tmp_path / "out"), "--backend", "sift"]) == 0
    (variant,) = variants(tmp_path / "out")
    assert [p["pair_id"] for p in variant["pairs"]][2:4] == ["one/pair-2", "two/pair-0"]
    assert variant["pairs"][3]["frames"]["pixels"]["theta"] == max(pairs[3].target.rgb.shape[:2])  # image threshold
    assert "| (no category) | 3 |" in (tmp_path / "out" / "results.md").read_text()


def test_tiny_model_variants_with_limit(spair, tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir):
    code = main(
        [
            "eval", "spair", str(spair), "--out", str(tmp_path), "--limit", "2",
            "--variants", "single,class,cpm,text,sift",
            "--model", str(tiny_sd_dir), "--dinov2", str(tiny_dinov2_dir), "--prompts", str(tiny_prompts_dir),
            "--backend", "sd", "--device", "cpu", "--dtype", "float32", "--size", str(TEST_SIZE), "--ensemble", "1",
        ]
    )  # fmt: skip
    assert code == 0
    results = variants(tmp_path)
    assert [v["name"] for v in results] == ["single", "class", "cpm", "text", "sift"]
    assert [v["settings"]["backend"] for v in results] == ["sd"] * 4 + ["sift"]
    for variant in results:
        assert [p["pair_id"][:6] for p in variant["pairs"]] == ["000001", "000004"]  # one of each category
        assert variant["summary"]["square"]["all"]["pairs"] == 2
    assert "| cat | 1 |" in (tmp_path / "results.md").read_text()
    assert Image.open(tmp_path / "pck.png").width > 5 * 14


def test_resume_after_a_hard_kill_recomputes_only_unsaved_pairs(spair, tmp_path, monkeypatch):
    # Die (no clean-up, like SIGKILL) on the 5th pair: pairs 1-4 were saved two by two.
    killer = tmp_path / "killed_run.py"
    killer.write_text(
        textwrap.dedent(
            """
            import os, sys
            import engine.evaluation.runner as runner
            real, calls = runner.score_sample, []
            def dying(*args):
                calls.append(1)
                if len(calls) == 5:
                    os._exit(9)
                return real(*args)
            runner.score_sample = dying
            from engine.cli import main
            raise SystemExit(main(sys.argv[1:]))
            """
        )
    )
    killed = subprocess.run(
        [sys.executable, str(killer), *sift_args(spair, tmp_path / "run", "--save-every", "2")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == 9, killed.stderr
    assert not (tmp_path / "run" / "results.json").exists()

    scored = count_scored(monkeypatch)
    assert main(sift_args(spair, tmp_path / "run")) == 0
    assert [pair_id[:6] for pair_id in scored] == ["000005", "000006"]

    scored.clear()
    assert main(sift_args(spair, tmp_path / "fresh")) == 0
    assert len(scored) == PAIRS
    assert variants(tmp_path / "run") == variants(tmp_path / "fresh")


def test_changed_settings_do_not_reuse_results(spair, tmp_path, monkeypatch):
    scored = count_scored(monkeypatch)
    assert main(sift_args(spair, tmp_path, "--limit", "2")) == 0
    assert main(sift_args(spair, tmp_path)) == 0  # a larger selection reuses the 2 pairs
    assert main(sift_args(spair, tmp_path, "--localisation", "argmax")) == 0
    assert len(scored) == 2 + (PAIRS - 2) + PAIRS
    assert len(list((tmp_path / "parts").iterdir())) == 2


def test_errors_are_one_line(spair, tmp_path, capsys):
    assert main(sift_args(tmp_path / "nowhere", tmp_path)) == 2
    assert "error: SPair-71k folder" in capsys.readouterr().err
    assert main(["eval", "spair", str(spair), str(spair), "--out", str(tmp_path)]) == 2
    assert "takes one folder, got 2" in capsys.readouterr().err
    # Without SD weights "auto" would quietly turn every variant into SIFT: refused in a comparison.
    assert main(["eval", "spair", str(spair), "--out", str(tmp_path), "--variants", "single,sift"]) == 2
    assert "variant 'single' needs Stable Diffusion" in capsys.readouterr().err


def eval_run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    run = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_two_processes_under_accelerate_launch_merge_to_the_single_process_result(
    spair, tmp_path, tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir
):
    """What the README claims: SIFT results equal bit for bit however the run was launched; SD
    results too when every process computes features with the same number of CPU threads."""
    # --multi_gpu starts the processes even without GPUs; the eval command then joins them over gloo.
    launch = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()), "-m", "engine",
    ]  # fmt: skip
    sd = ["--variants", "single,sift", "--model", str(tiny_sd_dir), "--dinov2", str(tiny_dinov2_dir)]
    sd += ["--prompts", str(tiny_prompts_dir), "--backend", "sd", "--device", "cpu", "--dtype", "float32"]
    sd += ["--size", str(TEST_SIZE), "--ensemble", "1"]

    def both(out):  # the SD variant and the SIFT one
        return ["eval", "spair", str(spair), "--out", str(out), *sd]

    # As a user runs it: accelerate gives each launched process one thread, a plain run every core.
    as_is = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    two = eval_run([*launch, *both(tmp_path / "two")], as_is)
    assert "2 process(es) in all" in two.stdout
    parts = sorted(path.name for path in (tmp_path / "two" / "parts").glob("sift-*/part-*.json"))
    assert [name[:9] for name in parts] == ["part-p000", "part-p001"]  # each process saved its block
    eval_run([sys.executable, "-m", "engine", *sift_args(spair, tmp_path / "one")], as_is)
    sift_two, sift_one = variants(tmp_path / "two")[1], variants(tmp_path / "one")[0]
    for key in ("pairs", "summary"):  # predictions, errors and PCK
        assert sift_two[key] == sift_one[key]
    # SD features on a CPU change in the last bits with the thread count: one thread, as launched.
    eval_run(
        [sys.executable, "-m", "engine", *both(tmp_path / "one-thread")],
        as_is | {"OMP_NUM_THREADS": "1"},
    )
    assert variants(tmp_path / "two") == variants(tmp_path / "one-thread")
