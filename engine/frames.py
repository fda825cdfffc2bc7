"""The one place that converts coordinates between frames (docs/algorithm.md#coordinate-frames).

Three frames, all (x, y) with x to the right and y down:

* **pixels**: the original image, (0, 0) is the centre of the top-left pixel (SPair-71k and
  PF-Pascal keypoints use this). The image covers [-0.5, W - 0.5] x [-0.5, H - 0.5].
* **square**: the squashed S x S model input, ``xs = x * S / W``.
* **grid**: feature cells, align-corners: ``xg = xs * (w - 1) / (S - 1)``; cell centres are the
  integers 0 .. w - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PointError


@dataclass(frozen=True)
class GridFrame:
    """Geometry of one image's feature map.

    Attributes:
        image_width, image_height: original image size in pixels.
        size: side S of the square model input.
        grid_width, grid_height: feature map size (w, h).
    """

    image_width: int
    image_height: int
    size: int
    grid_width: int
    grid_height: int

    def pixels_to_square(self, xy: np.ndarray) -> np.ndarray:
        """``N x 2`` pixels -> ``N x 2`` square frame."""
        return np.asarray(xy, dtype=np.float64) * (self.size / np.array([self.image_width, self.image_height]))

    def square_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """``N x 2`` square frame -> ``N x 2`` pixels."""
        return np.asarray(xy, dtype=np.float64) * (np.array([self.image_width, self.image_height]) / self.size)

    def square_to_grid(self, xy: np.ndarray) -> np.ndarray:
        """``N x 2`` square frame -> ``N x 2`` grid cells (align-corners)."""
        return np.asarray(xy, dtype=np.float64) * (self._grid_extent() / (self.size - 1))

    def grid_to_square(self, xy: np.ndarray) -> np.ndarray:
        """``N x 2`` grid cells -> ``N x 2`` square frame (align-corners)."""
        return np.asarray(xy, dtype=np.float64) * ((self.size - 1) / self._grid_extent())

    def pixels_to_grid(self, xy: np.ndarray) -> np.ndarray:
        return self.square_to_grid(self.pixels_to_square(xy))

    def grid_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        return self.square_to_pixels(self.grid_to_square(xy))

    def _grid_extent(self) -> np.ndarray:
        # A one-cell axis has no extent; mapping everything to its only cell avoids dividing by 0.
        return np.maximum(np.array([self.grid_width - 1, self.grid_height - 1], dtype=np.float64), 1e-12)


def clamp_to_image(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Move ``N x 2`` pixel points onto the image ([-0.5, W - 0.5] x [-0.5, H - 0.5]).

    For dataset source annotations, which can sit a hair outside the image (the official code
    clamps them too, in its 768 frame; docs/faithfulness.md). Ground-truth targets are scored by
    the official rule instead (:func:`engine.evaluation.pck.regularise_coordinates`), and points
    a user typed are validated (:func:`validate_points`).
    """
    return np.clip(np.asarray(xy, dtype=np.float64), -0.5, np.array([width, height], dtype=np.float64) - 0.5)


def validate_points(xy: np.ndarray, width: int, height: int, image_name: str = "the image") -> np.ndarray:
    """Check ``N x 2`` pixel points are finite and inside the image; return them as float64.

    The image covers [-0.5, W - 0.5] x [-0.5, H - 0.5] (pixel centres at integers).
    """
    points = np.asarray(xy, dtype=np.float64)
    if points.ndim == 1 and points.size == 2:
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 2:
        raise PointError(f"points must be an N x 2 array of (x, y), got shape {points.shape}")
    for index, (x, y) in enumerate(points):
        if not (np.isfinite(x) and np.isfinite(y)):
            raise PointError(f"point {index} ({x}, {y}) is not a finite number")
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise PointError(
                f"point {index} ({x:g}, {y:g}) is outside {image_name} ({width} x {height} px; "
                f"x must be in [-0.5, {width - 0.5:g}] and y in [-0.5, {height - 0.5:g}])"
            )
    return points
