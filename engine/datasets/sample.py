"""One annotated image pair of a dataset: what every reader returns and every evaluator consumes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import DocumentError
from ..images import LoadedImage, image_from_array, load_image

Threshold = Literal["bbox", "image", "points"]
THRESHOLDS: tuple[str, ...] = ("bbox", "image", "points")
BBox = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class PairSample:
    """An image pair with ground-truth correspondences.

    Coordinates are original-image pixels, (x, y), (0, 0) the centre of the top-left pixel,
    after EXIF orientation and after the horizontal flip when ``flip`` is set.

    Attributes:
        pair_id: unique within the split, e.g. SPair ``"4370-2009_001234-2010_004567:cat"``.
        category: the dataset's name for the class, e.g. ``"cat"`` or PF-Willow's ``"car(G)"``;
            prompts clean it with :func:`engine.prompts.categories.canonical_category`.
        source_path, target_path: the image files.
        source_points, target_points: ``N x 2`` float64 (read-only), row i of one matches row i
            of the other; only points valid in both images are kept.
        source_bbox, target_bbox: object box ``(x1, y1, x2, y2)`` in pixels, or None.
        flip: both images are mirrored horizontally on loading (PF-Pascal trn "flip" column);
            the points and boxes are already mirrored.
        threshold: what the PCK reference length theta is: "bbox" (max side of the target box,
            SPair-71k), "image" (max(H, W) of the target, PF-Pascal) or "points" (max extent
            of the target keypoints, PF-Willow).
        labels: the points' names, row-aligned (SPair-71k: the ``kps_ids`` of its category's
            keypoint list; an export: the keypoint labels); empty when the dataset has none.
    """

    pair_id: str
    category: str
    source_path: Path
    target_path: Path
    source_points: np.ndarray
    target_points: np.ndarray
    source_bbox: BBox | None
    target_bbox: BBox | None
    flip: bool = False
    threshold: Threshold = "bbox"
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        source = _points(self.source_points, self.pair_id, "source")
        target = _points(self.target_points, self.pair_id, "target")
        if len(source) != len(target):
            raise DocumentError(f"pair '{self.pair_id}' has {len(source)} source but {len(target)} target points")
        if self.labels and len(self.labels) != len(source):
            raise DocumentError(f"pair '{self.pair_id}' has {len(self.labels)} labels for {len(source)} points")
        if self.threshold not in THRESHOLDS:
            raise DocumentError(f"pair '{self.pair_id}': unknown PCK threshold '{self.threshold}'")
        if self.threshold == "bbox" and self.target_bbox is None:
            raise DocumentError(f"pair '{self.pair_id}' uses the bbox PCK threshold but has no target box")
        # Frozen: normalise through object.__setattr__ so callers always see read-only float64.
        object.__setattr__(self, "source_points", source)
        object.__setattr__(self, "target_points", target)
        object.__setattr__(self, "source_path", Path(self.source_path))
        object.__setattr__(self, "target_path", Path(self.target_path))
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))

    @property
    def num_points(self) -> int:
        return len(self.source_points)

    def load_images(self) -> tuple[LoadedImage, LoadedImage]:
        """Decode both images (EXIF orientation applied), mirrored when ``flip`` is set."""
        return self.load_image(self.source_path), self.load_image(self.target_path)

    def load_image(self, path: Path) -> LoadedImage:
        """Decode one of the pair's images as the pair shows it (mirrored when ``flip`` is set)."""
        image = load_image(path)
        if not self.flip:
            return image
        return image_from_array(image.rgb[:, ::-1], path=path)


def valid_in_both(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows whose source and target points are both finite (``N x 2`` each)."""
    return np.isfinite(source).all(axis=1) & np.isfinite(target).all(axis=1)


def mirror_points(points: np.ndarray, width: int) -> np.ndarray:
    """Mirror ``N x 2`` pixel points of a ``width``-wide image: x -> W - 1 - x.

    Pixel centres sit at 0 .. W - 1, so this maps centres onto centres. (The official code
    mirrors with W - x in its 768 frame, half a pixel of the squashed image off.)
    """
    mirrored = np.array(points, dtype=np.float64)
    mirrored[:, 0] = (width - 1) - mirrored[:, 0]
    return mirrored


def mirror_bbox(bbox: BBox, width: int) -> BBox:
    """Mirror an ``(x1, y1, x2, y2)`` box like :func:`mirror_points`, keeping x1 <= x2."""
    x1, y1, x2, y2 = bbox
    return ((width - 1) - x2, y1, (width - 1) - x1, y2)


def _points(points: np.ndarray, pair_id: str, role: str) -> np.ndarray:
    array = np.array(points, dtype=np.float64)
    if array.size == 0:
        array = np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise DocumentError(f"pair '{pair_id}': {role} points must be N x 2, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DocumentError(f"pair '{pair_id}' has non-finite {role} points")
    array.setflags(write=False)
    return array
