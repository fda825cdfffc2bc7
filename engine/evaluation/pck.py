"""PCK, the percentage of correct keypoints (docs/algorithm.md#pck): pure numpy, usable by the app.

A predicted point is correct at alpha when ``||pred - gt|| <= alpha * theta``; theta is the
reference length of the pair (:func:`reference_length`). Everything can be measured in two frames:

* ``"square"``: the squashed S x S model input (``x * S / W``, ``y * S / H``), where the paper
  measures, so its numbers compare with the paper's;
* ``"pixels"``: the original target image, what a user sees.

Points and lengths are (x, y) with x to the right and y down in the frame at hand. As in the
official dataset readers, theta is taken from the annotation as given and the ground-truth points
are then moved into the frame's image (:func:`regularise_coordinates`) before errors are measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..frames import GridFrame

ALPHAS: tuple[float, ...] = (0.05, 0.1, 0.15)
FRAMES: tuple[str, ...] = ("square", "pixels")
# alpha * theta is rarely exact in floating point (0.15 * 100 = 15.000000000000002): a relative
# slack this small keeps points exactly at the threshold correct without changing any real result.
RELATIVE_SLACK = 1e-9
# How far inside the frame the official readers put ground-truth points that lie on or past its
# edge (regularise_coordinates, eps=1e-4).
GROUND_TRUTH_MARGIN = 1e-4


def regularise_coordinates(
    xy: np.ndarray, width: float, height: float, margin: float = GROUND_TRUTH_MARGIN
) -> np.ndarray:
    """The official ``regularise_coordinates``: ``N x 2`` points moved into a ``width x height`` frame.

    Per axis of length L: a coordinate ``<= 0`` becomes ``margin``, then one ``>= L - 1`` becomes
    ``L - 1 - margin``; the rest are unchanged (so the official frame is [0, L - 1], pixel
    centres, not this project's [-0.5, L - 0.5] image extent). Returns a new float64 array.
    """
    points = _points(xy).copy()
    for axis, length in enumerate((width, height)):
        column = points[:, axis]
        column[column <= 0] = margin
        column[column >= length - 1] = length - 1 - margin
    return points


def point_errors(predicted: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """Euclidean distances of ``N x 2`` predictions to ``N x 2`` ground truth -> ``N``."""
    predicted, ground_truth = _points(predicted), _points(ground_truth)
    if predicted.shape != ground_truth.shape:
        raise ValueError(f"{len(predicted)} predictions for {len(ground_truth)} ground-truth points")
    return np.linalg.norm(predicted - ground_truth, axis=1)


def correct_points(errors: np.ndarray, theta: float, alphas: tuple[float, ...] = ALPHAS) -> np.ndarray:
    """``A x N`` booleans: error ``<= alpha * theta`` (points exactly at the threshold count)."""
    limits = np.asarray(alphas, dtype=np.float64)[:, None] * float(theta) * (1 + RELATIVE_SLACK)
    return np.asarray(errors, dtype=np.float64)[None, :] <= limits


def pck(
    predicted: np.ndarray, ground_truth: np.ndarray, theta: float, alphas: tuple[float, ...] = ALPHAS
) -> np.ndarray:
    """PCK of one pair: for each alpha, the fraction in [0, 1] of correct points (``A``; NaN if N = 0)."""
    return Measurement(point_errors(predicted, ground_truth), float(theta)).pck(alphas)


def reference_length(
    threshold: str,
    target_points: np.ndarray,
    target_bbox: tuple[float, float, float, float] | None,
    width: float,
    height: float,
) -> float:
    """theta of a pair, measured in whatever frame the arguments are given in.

    Args:
        threshold: "bbox" (max side of the target box; SPair-71k), "image" (max(H, W) of the
            target; PF-Pascal) or "points" (larger extent of the target keypoints; PF-Willow).
        target_points: ``N x 2`` ground-truth target points.
        target_bbox: ``(x1, y1, x2, y2)``; needed by "bbox".
        width, height: the target image's size in this frame (S and S in the square frame).
    """
    if threshold == "bbox":
        if target_bbox is None:
            raise ValueError("the bbox threshold needs a target box")
        x1, y1, x2, y2 = target_bbox
        return float(max(x2 - x1, y2 - y1))
    if threshold == "image":
        return float(max(width, height))
    if threshold == "points":
        points = _points(target_points)
        if len(points) == 0:
            raise ValueError("the points threshold needs at least one target point")
        return float((points.max(axis=0) - points.min(axis=0)).max())
    raise ValueError(f"unknown PCK threshold '{threshold}'")


@dataclass(frozen=True)
class Measurement:
    """One pair in one frame: per-point errors (``N``) and the reference length theta."""

    errors: np.ndarray
    theta: float

    def correct(self, alphas: tuple[float, ...] = ALPHAS) -> np.ndarray:
        """``A x N`` booleans."""
        return correct_points(self.errors, self.theta, alphas)

    def pck(self, alphas: tuple[float, ...] = ALPHAS) -> np.ndarray:
        """``A`` fractions (NaN when the pair has no points)."""
        correct = self.correct(alphas)
        return correct.mean(axis=1) if correct.shape[1] else np.full(len(alphas), np.nan)


def measure(
    predicted: np.ndarray,
    ground_truth: np.ndarray,
    threshold: str,
    target_bbox: tuple[float, float, float, float] | None,
    frame: GridFrame,
) -> dict[str, Measurement]:
    """Errors and theta of one pair in both frames, as the official evaluator scores them.

    In each frame, theta comes from the ground truth as annotated; the errors are then measured
    against the ground truth moved into that frame's image by :func:`regularise_coordinates`
    (S x S in the square frame, W x H in pixels), which is what the official readers do after
    taking the threshold.

    Args:
        predicted, ground_truth: ``N x 2`` target points in original pixels.
        threshold, target_bbox: as for :func:`reference_length` (box in original pixels).
        frame: the target image's geometry (``PreparedPair.target.frame``): image size and S.
    """
    width, height, size = frame.image_width, frame.image_height, frame.size
    bbox_square = None
    if target_bbox is not None:
        corners = frame.pixels_to_square(np.array(target_bbox, dtype=np.float64).reshape(2, 2))
        bbox_square = (corners[0, 0], corners[0, 1], corners[1, 0], corners[1, 1])
    gt_pixels = _points(ground_truth)
    gt_square = frame.pixels_to_square(gt_pixels)
    return {
        "square": Measurement(
            point_errors(frame.pixels_to_square(_points(predicted)), regularise_coordinates(gt_square, size, size)),
            reference_length(threshold, gt_square, bbox_square, size, size),
        ),
        "pixels": Measurement(
            point_errors(predicted, regularise_coordinates(gt_pixels, width, height)),
            reference_length(threshold, gt_pixels, target_bbox, width, height),
        ),
    }


def _points(xy: np.ndarray) -> np.ndarray:
    points = np.asarray(xy, dtype=np.float64)
    return points.reshape(0, 2) if points.size == 0 else points.reshape(-1, 2)
