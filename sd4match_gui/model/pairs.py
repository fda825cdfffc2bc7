"""The image pairs of a session: where the files are and what a dataset says about them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.export.document import Point

BBox = tuple[float, float, float, float]  # x1, y1, x2, y2 in original pixels


@dataclass(frozen=True)
class GroundTruth:
    """A dataset's keypoint: source and target pixels, and its id in the category's keypoint list."""

    src_xy: Point
    trg_xy: Point
    label: str


@dataclass(frozen=True)
class PairEntry:
    """One source/target pair.

    Attributes:
        pair_id: unique within the session (e.g. SPair-71k's ``{id}-{src}-{trg}:{cat}``).
        source, target: absolute image paths.
        category: object category, if known (class prompts and templates use it).
        source_bbox, target_bbox: object boxes, if the dataset gives them (PCK uses the target's).
        ground_truth: the dataset's keypoints; empty for plain images.
        threshold: the dataset's PCK rule (``engine.datasets.PairSample.threshold``: "bbox",
            "image" or "points"); None outside datasets.
    """

    pair_id: str
    source: Path
    target: Path
    category: str | None = None
    source_bbox: BBox | None = None
    target_bbox: BBox | None = None
    ground_truth: tuple[GroundTruth, ...] = ()
    threshold: str | None = None

    @property
    def title(self) -> str:
        return f"{self.source.name}  →  {self.target.name}"


def pair_id_for(source: Path, target: Path, taken: set[str]) -> str:
    """A readable id from the file stems, made unique against ``taken``."""
    base = f"{source.stem}-{target.stem}"
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate
