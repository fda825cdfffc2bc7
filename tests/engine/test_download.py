"""``sd4match download`` asks the hub for exactly the files the engine needs (no network in tests)."""

from __future__ import annotations

import shutil

import huggingface_hub
import pytest

from engine.cli import main
from engine.models.weights import SD_DOWNLOAD_PATTERNS


def test_download_fetches_only_the_needed_files_into_a_folder(tmp_path, tiny_sd_dir, monkeypatch, capsys):
    calls = []

    def fake_snapshot_download(repo_id, allow_patterns=None, local_dir=None, **kwargs):
        calls.append((repo_id, allow_patterns, kwargs.get("local_files_only", False)))
        shutil.copytree(tiny_sd_dir, local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert main(["download", "--only", "sd", "--sd", "someone/sd21", "--to", str(tmp_path / "weights")]) == 0
    assert calls == [("someone/sd21", SD_DOWNLOAD_PATTERNS, False)]
    assert not any("decoder" in pattern or "fp16" in pattern for pattern in SD_DOWNLOAD_PATTERNS)
    assert "--model" in capsys.readouterr().out


def test_download_failure_is_one_line(monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    assert main(["download", "--only", "dinov2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("sd4match download: error: could not download DINOv2 weights from 'facebook/dinov2-base'")
    assert "\n" not in error


@pytest.mark.parametrize("kind", ["sd", "dinov2"])
def test_download_patterns_cover_what_the_loader_requires(kind):
    from engine.models.weights import KINDS

    _, rules, patterns, _, _ = KINDS[kind]
    for sub, files in rules.items():
        for rule in files:
            options = (rule,) if isinstance(rule, str) else rule
            wanted = [f"{sub}/{name}".removeprefix("./") for name in options]
            assert any(
                pattern == path or (pattern.endswith("/*") and path.startswith(pattern[:-1]))
                for pattern in patterns
                for path in wanted
            ), f"{kind}: no download pattern fetches {wanted}"
