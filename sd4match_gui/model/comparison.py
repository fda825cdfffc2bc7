"""Scoring variants point by point: spread between predictions, error against a reference, PCK.

Used by the comparison mode (every variant) and by the points table (the current variant).
All distances are in original target pixels. The spread of a point is the largest distance
between any two variants' predictions (``engine.comparison.prediction_spread``); as a fraction it
is divided by ``max(W, H)`` of the target image. A point's reference is the dataset's ground
truth, else the target a person accepted or corrected. PCK@alpha counts a prediction correct when
its error is at most ``alpha * theta`` (``engine.evaluation``), with theta by the dataset's own
rule for a dataset pair (SPair-71k: longer side of the target box; PF-Pascal: longer side of the
target image; PF-Willow: larger extent of the target keypoints), otherwise the longer side of
the target box if known, else of the target image; see docs/algorithm.md#pck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.comparison import prediction_spread
from engine.evaluation.pck import correct_points, reference_length, regularise_coordinates
from engine.export.document import Keypoint, Point

from .pairs import PairEntry

PCK_ALPHAS = (0.05, 0.1)


def pck_rule(pair: PairEntry) -> str:
    """How theta is measured for ``pair``: "bbox", "image" or "points" (see the module docstring)."""
    return pair.threshold or ("bbox" if pair.target_bbox is not None else "image")


def pck_threshold(pair: PairEntry, image_size: tuple[int, int]) -> float:
    """theta of PCK in target pixels; ``image_size`` is the target's (W, H)."""
    truth = np.array([g.trg_xy for g in pair.ground_truth], dtype=np.float64).reshape(-1, 2)
    return reference_length(pck_rule(pair), truth, pair.target_bbox, *image_size)


def references(pair: PairEntry, points: list[Keypoint], image_size: tuple[int, int] | None = None) -> dict[int, Point]:
    """Point id -> the target its errors are measured against: the dataset's ground truth where the
    point is a ground-truth keypoint (same source position), else the user's approved target.

    With the target's ``image_size`` (W, H), ground truth is moved into the image as the official
    evaluator does (``engine.evaluation.regularise_coordinates``), so the app's errors and PCK equal
    ``sd4match eval``'s in original pixels; theta is taken from the annotation as given.
    """
    truth = ground_truth(pair, image_size)
    found = ((point.id, reference(point, truth)) for point in points)
    return {point_id: found_xy for point_id, found_xy in found if found_xy is not None}


def ground_truth(pair: PairEntry, image_size: tuple[int, int] | None = None) -> dict[Point, Point]:
    """The pair's ground-truth source -> target points, the targets moved into an image of
    ``image_size`` (W, H) as :func:`references` says."""
    truth = {g.src_xy: g.trg_xy for g in pair.ground_truth}
    if truth and image_size is not None:
        clamped = regularise_coordinates(np.array(list(truth.values()), dtype=np.float64), *image_size)
        truth = {src: (float(x), float(y)) for src, (x, y) in zip(truth, clamped, strict=True)}
    return truth


def reference(point: Keypoint, truth: dict[Point, Point]) -> Point | None:
    """The reference of one point (:func:`references`), given the pair's :func:`ground_truth`."""
    if point.src_xy in truth:
        return truth[point.src_xy]
    if point.approved and point.trg_xy is not None:
        return point.trg_xy
    return None


@dataclass(frozen=True)
class VariantCell:
    """One variant's answer for one point."""

    xy: Point
    confidence: float | None  # None when the file it was read from had none
    error: float | None  # distance to the reference, when there is one


@dataclass(frozen=True)
class ComparisonRow:
    """One point across variants.

    Attributes:
        point: the annotated point.
        cells: variant name -> its prediction (absent while not computed).
        spread_px, spread_fraction: see the module docstring (None with fewer than two predictions).
        reference: the point errors are measured against: ground truth or the user's approved target.
    """

    point: Keypoint
    cells: dict[str, VariantCell]
    spread_px: float | None
    spread_fraction: float | None
    reference: Point | None


def comparison_rows(
    points: list[Keypoint],
    run_ids: dict[str, str],
    image_size: tuple[int, int],
    references: dict[int, Point],
) -> list[ComparisonRow]:
    """Build the table of the comparison mode.

    Args:
        points: the pair's points.
        run_ids: variant name -> run id of its predictions (variants not yet computed are absent).
        image_size: target (W, H).
        references: point id -> reference target point (ground truth or approved target).
    """
    rows = []
    for point in points:
        reference = references.get(point.id)
        cells = {}
        for name, run_id in run_ids.items():
            record = point.prediction(run_id)
            if record is not None:
                error = float(np.hypot(*np.subtract(record.xy, reference))) if reference is not None else None
                cells[name] = VariantCell(record.xy, record.confidence, error)
        spread_px = fraction = None
        if len(cells) > 1:
            pixels, fractions = prediction_spread(np.array([[cell.xy] for cell in cells.values()]), *image_size)
            spread_px, fraction = float(pixels[0]), float(fractions[0])
        rows.append(ComparisonRow(point, cells, spread_px, fraction, reference))
    return rows


def errors(rows: list[ComparisonRow], variant: str) -> dict[int, float]:
    """Point id -> ``variant``'s error, for the points that have a reference and a prediction."""
    return {
        row.point.id: cell.error
        for row in rows
        if (cell := row.cells.get(variant)) is not None and cell.error is not None
    }


def pck(rows: list[ComparisonRow], variant: str, threshold: float, alpha: float) -> float | None:
    """Share of points with a reference whose ``variant`` error is within ``alpha * threshold``."""
    found = list(errors(rows, variant).values())
    if not found:
        return None
    return float(correct_points(np.array(found), threshold, (alpha,)).mean())


def pck_by_alpha(rows: list[ComparisonRow], variant: str, threshold: float) -> dict[float, float | None]:
    """:func:`pck` at each of :data:`PCK_ALPHAS`."""
    return {alpha: pck(rows, variant, threshold, alpha) for alpha in PCK_ALPHAS}
