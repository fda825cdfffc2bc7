"""Fixtures shared by every test: tiny random models saved like downloaded ones, prompt files, images.

The tiny models use the real diffusers/transformers classes with small widths (see
``engine.bench.random_init``); they are written with ``save_pretrained`` and loaded back through
the project's own loader, so loading code is exercised exactly as with real weights.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEMO_SOURCE = REPO / "resources" / "demo" / "astronaut.jpg"
DEMO_TARGET = REPO / "resources" / "demo" / "grace_hopper.jpg"
TEST_SIZE = 256  # square input size for tiny-model tests: latent 32 x 32, layer-1 grid 16 x 16
SPAIR_CLASSES = ("aeroplane", "cat", "dog", "person")


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_folders(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests away from the developer's prompt library, feature cache and Hugging Face cache."""
    home = tmp_path_factory.mktemp("home")
    os.environ["SD4MATCH_HOME"] = str(home / "sd4match")
    os.environ["SD4MATCH_CACHE"] = str(home / "feature-cache")
    os.environ["HF_HOME"] = str(home / "hf")
    os.environ["HF_HUB_CACHE"] = str(home / "hf" / "hub")


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.bench.random_init import random_stable_diffusion, save_stable_diffusion

    return save_stable_diffusion(random_stable_diffusion("tiny", seed=0), tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def tiny_dinov2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.bench.random_init import random_dinov2

    folder = tmp_path_factory.mktemp("tiny-dinov2")
    random_dinov2("tiny", seed=0).save_pretrained(folder)
    return folder


def write_prompt_library(root: Path, text_width: int = 32, dino_width: int = 32, prompt_set: str = "spair") -> Path:
    """Random learned prompts in the release's layout and key names (D = text_width)."""
    generator = torch.Generator().manual_seed(1)
    rand = lambda *shape: torch.randn(*shape, generator=generator)  # noqa: E731
    single = root / f"Single_{prompt_set}_sd2-1_TokenEmbeds75"
    classes = root / f"Class_{prompt_set}_sd2-1_TokenEmbeds75"
    cpm = root / f"CPM_{prompt_set}_sd2-1_Pair-DINO-Feat-G25-C50"
    for folder in (single, classes, cpm):
        folder.mkdir(parents=True, exist_ok=True)
    torch.save({"dataset": rand(1, 77, text_width)}, single / "caption.pt")
    torch.save({name: rand(1, 77, text_width) for name in SPAIR_CLASSES}, classes / "caption.pt")
    state = {
        "global_embeds": rand(1, 25, text_width),
        "positional_embedding": rand(1, 50, text_width),
        "alpha_cond": rand(1, 50, text_width),
        "linear_C.weight": rand(text_width, 2 * dino_width) * 0.1,
        "linear_C.bias": rand(text_width),
        "linear_N.weight": rand(256, 256) * 0.05,
        "linear_N.bias": rand(256),
        "position_ids": torch.arange(77)[None],  # left over by some transformers versions; must be ignored
    }
    torch.save(state, cpm / "ckpt.pt")
    return root


@pytest.fixture(scope="session")
def tiny_prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_prompt_library(tmp_path_factory.mktemp("prompts"))


@pytest.fixture(scope="session")
def tiny_matcher(tiny_sd_dir: Path, tiny_dinov2_dir: Path, tiny_prompts_dir: Path):
    """A float32 CPU matcher on the tiny models; shared, so tests must not rely on cold caches."""
    from engine import Matcher, ModelSources, resolve_runtime

    sources = ModelSources(sd=str(tiny_sd_dir), dinov2=str(tiny_dinov2_dir), prompts=str(tiny_prompts_dir))
    return Matcher(sources, runtime=resolve_runtime("cpu", "float32"))


@pytest.fixture
def fresh_matcher(tiny_sd_dir: Path, tiny_dinov2_dir: Path, tiny_prompts_dir: Path):
    """A float32 CPU matcher with empty caches, for tests that count cache hits."""
    from engine import Matcher, ModelSources, resolve_runtime

    sources = ModelSources(sd=str(tiny_sd_dir), dinov2=str(tiny_dinov2_dir), prompts=str(tiny_prompts_dir))
    return Matcher(sources, runtime=resolve_runtime("cpu", "float32"))


@pytest.fixture
def counters(monkeypatch):
    """Counts of VAE encoder and truncated-UNet passes, ``{"vae": n, "unet": n}``, as they happen."""
    import engine.features.stable_diffusion as sd_features

    counts = {"vae": 0, "unet": 0}
    original_encode, original_unet = sd_features.encode_posterior, sd_features.up_block_features

    def encode(*args, **kwargs):
        counts["vae"] += 1
        return original_encode(*args, **kwargs)

    def unet(*args, **kwargs):
        counts["unet"] += 1
        return original_unet(*args, **kwargs)

    monkeypatch.setattr(sd_features, "encode_posterior", encode)
    monkeypatch.setattr(sd_features, "up_block_features", unet)
    return counts


@pytest.fixture(scope="session")
def demo_images():
    from engine import load_image

    return load_image(DEMO_SOURCE), load_image(DEMO_TARGET)


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def free_port() -> int:
    """A TCP port free on this machine now, for ``accelerate launch --main_process_port``: port 0
    ("pick one") is understood only by newer accelerate releases than the oldest supported."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
