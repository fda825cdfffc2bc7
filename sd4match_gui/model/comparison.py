"""Comparing variants point by point: spread between predictions, error against a reference, PCK.

All distances are in original target pixels. The spread of a point is the largest distance
between any two variants' predictions (``engine.comparison.prediction_spread``); as a fraction it
is divided by ``max(W, H)`` of the target image. PCK@alpha counts a prediction correct when its
error is at most ``alpha * theta`` (``engine.evaluation``), theta the longer side of the target
bounding box when the dataset gives one (SPair-71k's rule), else the longer image side
(PF-Pascal's rule); see docs/algorithm.md section 6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.comparison import prediction_spread
from engine.evaluation.pck import correct_points, reference_length

from .correspondence import Correspondence, Point
from .pairs import BBox

PCK_ALPHAS = (0.05, 0.1)


def pck_threshold(image_size: tuple[int, int], bbox: BBox | None) -> float:
    """theta of PCK in target pixels: the longer bbox side if known, else the longer image side."""
    return reference_length("bbox" if bbox is not None else "image", np.zeros((0, 2)), bbox, *image_size)


@dataclass(frozen=True)
class VariantCell:
    """One variant's answer for one point."""

    xy: Point
    confidence: float
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

    point: Correspondence
    cells: dict[str, VariantCell]
    spread_px: float | None
    spread_fraction: float | None
    reference: Point | None


def comparison_rows(
    points: list[Correspondence],
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


def pck(rows: list[ComparisonRow], variant: str, threshold: float, alpha: float) -> float | None:
    """Share of points with a reference whose ``variant`` error is within ``alpha * threshold``."""
    errors = [row.cells[variant].error for row in rows if variant in row.cells and row.cells[variant].error is not None]
    if not errors:
        return None
    return float(correct_points(np.array(errors), threshold, (alpha,)).mean())
