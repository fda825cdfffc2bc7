"""The command line answers help and argument errors without loading heavy libraries (issue 15).

Each check runs in a new interpreter, because this test process has imported torch long ago;
there ``sys.modules`` says which libraries the commands pulled in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from engine.bench import startup
from engine.bench.startup import CASES, StartupCase, time_startup
from engine.cli import build_parser, main
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, REPO

# Seconds each: torch 2.6 of the 2.6 s `sd4match --help` took; none is needed to parse arguments.
HEAVY = ("torch", "diffusers", "transformers", "accelerate", "cv2", "scipy", "numpy", "PIL", "tqdm")
MODEL_LIBRARIES = ("diffusers", "transformers", "accelerate", "scipy")


def imported_after(code: str) -> list[str]:
    """Top-level packages of HEAVY that ``code`` imported, run in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return sorted(action.choices)


def run_in_fresh_interpreter(calls: list[list[str]]) -> list[str]:
    """HEAVY packages imported by ``sd4match`` running each of ``calls`` (help exits 0, errors 2)."""
    code = f"""
        import contextlib, io
        from engine.cli import main
        for argv in {calls!r}:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                try:
                    status = main(argv)
                except SystemExit as exc:
                    status = exc.code
            assert status == (0 if "--help" in argv else 2), (argv, status, err.getvalue())
        """
    return imported_after(code)


def test_help_and_parser_errors_import_no_heavy_library():
    calls = [["--help"], *([name, "--help"] for name in subcommands()), ["match", "a.jpg", "b.jpg"]]
    assert run_in_fresh_interpreter(calls) == []


def test_errors_found_before_loading_import_no_heavy_library(tmp_path):
    # Found in run() before any image or model loads. configure_process (allocator tuning, run
    # before the command) resolves --device auto with torch, so torch and numpy come in; no
    # image, model or data library does.
    calls = [
        ["match", "a.jpg", "b.jpg", "--points", "1,2,3", "--out", str(tmp_path / "m.json")],
        ["match", "a.jpg", "b.jpg", "--points", "1,2", "--out", str(tmp_path)],
        ["compare", "a.jpg", "b.jpg", "--points", "1,2", "--variants", "single", "--out", "f.png", "--columns", "0"],
        ["eval", "spair", str(tmp_path), "--out", str(tmp_path / "runs"), "--limit", "0"],
        ["bench", "--startup-only", "--startup-runs", "0"],
        ["tune", "single", "spair", str(tmp_path), "--prompt-set", "bad name!"],
    ]
    assert set(run_in_fresh_interpreter(calls)) <= {"numpy", "torch", "tqdm"}  # torch.hub imports tqdm


def test_commands_that_run_no_model_import_no_heavy_library(tmp_path):
    # The runtime options (configure_process resolves the device with torch) apply only to commands
    # that compute; listing or emptying the cache and listing prompts never needed torch.
    entry = tmp_path / "cache" / "0a.safetensors"
    entry.parent.mkdir()
    entry.write_bytes(b"\0" * 64)  # counted by info, deleted by clear, never parsed
    code = f"""
        import contextlib, io, os
        os.environ["SD4MATCH_CACHE"] = {str(tmp_path / "cache")!r}
        os.environ["SD4MATCH_HOME"] = {str(tmp_path / "home")!r}
        from engine.cli import main
        for argv in (["cache", "info"], ["cache", "clear"], ["prompts", "list"]):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                assert main(argv) == 0, argv
            assert out.getvalue(), argv
        """
    assert imported_after(code) == []


def test_sift_match_loads_no_model_library(tmp_path):
    out = tmp_path / "m.json"
    code = f"""
        from engine.cli import main
        argv = [{str(DEMO_SOURCE)!r}, {str(DEMO_TARGET)!r}, "--points", "200,180", "--backend", "sift"]
        assert main(["match", *argv, "--out", {str(out)!r}, "--size", "256"]) == 0
        """
    loaded = imported_after(code)
    assert "torch" in loaded and not set(loaded) & set(MODEL_LIBRARIES), loaded
    assert json.loads(out.read_text())["pairs"]


def test_importing_the_engine_loads_nothing_heavy():
    assert imported_after("import engine, engine.cli, engine.datasets, engine.training") == []
    # ...and the public names still come from `engine` (imported when first read).
    code = """
        import engine
        from engine import Matcher, PreparedPair, load_image, atomic
        from engine.datasets import DATASET_KINDS, PairSample
        from engine.training import TrainingConfig
        assert engine.Matcher is Matcher and Matcher.__module__ == "engine.matcher"
        assert set(engine.__all__) <= set(dir(engine)) and "json" in DATASET_KINDS
        try:
            engine.NoSuchName
        except AttributeError as exc:
            assert "NoSuchName" in str(exc)
        else:
            raise AssertionError("unknown names must raise AttributeError")
        """
    assert "torch" in imported_after(code)


@pytest.mark.parametrize("command", [[], *([name] for name in subcommands())])
def test_every_help_still_prints(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sd4match {' '.join(command)}".rstrip()) and "options:" in out


def test_startup_bench_times_each_command_to_its_first_output():
    rows = time_startup(2, CASES[:3])  # help, subcommand help, a parser error; the SIFT match is timed above
    assert [row.what for row in rows] == [case.what for case in CASES[:3]]
    assert all(0 < row.first_output_s <= row.exit_s and row.runs == 2 for row in rows)
    assert all(row.cpu_s is not None and row.cpu_s > 0 for row in rows)  # Linux: the children's CPU time
    assert rows[2].command == "sd4match match source.png target.png"  # the temporary folder is not shown


def test_bench_command_prints_and_saves_the_startup_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(startup, "CASES", CASES[:1])
    assert main(["bench", "--startup-only", "--startup-runs", "1", "--json", str(tmp_path / "startup.json")]) == 0
    (row,) = json.loads((tmp_path / "startup.json").read_text())["startup"]
    assert row["command"] == "sd4match --help" and 0 < row["first_output_s"] <= row["exit_s"]
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("| command, new process (median of 1) | to first output (s) | to exit (s) |")
    assert len(printed) == 3 and printed[2].startswith("| sd4match --help: `sd4match --help` | ")


def test_startup_bench_refuses_a_command_that_ends_otherwise():
    wrong = StartupCase("help said to fail", ("--help",), exit_code=2)
    with pytest.raises(RuntimeError, match="exited 0 \\(expected 2\\)"):
        time_startup(1, [wrong])
