"""Fixtures for prompt-tuning tests: a toy annotated dataset in the app's export format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.export.document import CorrespondenceDocument, ImageRef, Keypoint, PairRecord

TOY_CATEGORIES = ("cat", "dog")


def toy_image(path: Path, seed: int, width: int = 72, height: int = 56) -> Path:
    """A smooth random image (blurred noise) saved as PNG: structure the tiny models can tell apart."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize((width, height), Image.BICUBIC).save(path)
    return path


def write_toy_export(folder: Path, pairs: int = 4, points: int = 5, seed: int = 0, name: str = "session") -> Path:
    """An sd-correspondence file of ``pairs`` pairs (categories alternating cat, dog), all points corrected."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = []
    for index in range(pairs):
        source = toy_image(folder / f"{name}-{index}-a.png", seed * 100 + 2 * index)
        target = toy_image(folder / f"{name}-{index}-b.png", seed * 100 + 2 * index + 1, width=64, height=64)
        source_xy = rng.uniform([0, 0], [71, 55], (points, 2))
        target_xy = rng.uniform([0, 0], [63, 63], (points, 2))
        keypoints = [
            Keypoint(id=k, src_xy=tuple(source_xy[k]), trg_xy=tuple(target_xy[k]), status="corrected")
            for k in range(points)
        ]
        records.append(
            PairRecord(
                pair_id=f"pair-{index}",
                category=TOY_CATEGORIES[index % 2],
                source=ImageRef(source, 72, 56),
                target=ImageRef(target, 64, 64),
                keypoints=keypoints,
            )
        )
    path = folder / f"{name}.json"
    CorrespondenceDocument(pairs=records).save(path)
    return path


@pytest.fixture(scope="session")
def toy_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_export(tmp_path_factory.mktemp("toy-train"))


@pytest.fixture(scope="session")
def toy_validation_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_export(tmp_path_factory.mktemp("toy-val"), pairs=2, seed=1, name="held-out")
