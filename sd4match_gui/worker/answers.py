"""Answers built from a prepared pair, the same on the engine thread and on the query lane.

Qt-free. The caller runs these on one torch thread (``torch_threads.py``): that is what makes an
answer the same bits whichever thread computed it.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import EngineError
from engine.export.from_matches import run_details
from engine.variants import Variant

from .messages import ComputeRequest, Failure, PreviewAnswer, PreviewRequest, VariantPreview, VariantResult

if TYPE_CHECKING:
    from engine.prepared_pair import PreparedPair


def variant_result(
    request: ComputeRequest, variant: Variant, pair: PreparedPair, ensemble: tuple[int, int] | None = None
) -> VariantResult:
    """Match the request's points on ``pair`` (and the score map of its heatmap row).

    Raises:
        EngineError: e.g. a point off the source image.
    """
    matches = pair.match(request.points_xy, request.localisation)
    heatmap = None
    if request.heatmap_row is not None:
        row = request.points_xy[request.heatmap_row : request.heatmap_row + 1]
        heatmap = np.ascontiguousarray(pair.score_maps(row)[0], dtype=np.float32)
    run = run_details(pair, request.localisation)
    return VariantResult(request.request_id, variant.name, run, matches, heatmap, pair.target.frame, ensemble)


def preview_answer(request: PreviewRequest, pairs: list[tuple[Variant, PreparedPair]]) -> PreviewAnswer:
    """Where the hovered pixel lands under each variant of ``pairs`` (those of the request that are prepared)."""
    point = np.array([request.point_xy], dtype=np.float64)
    answers = {}
    for variant, pair in pairs:
        try:
            matches = pair.match(point, request.localisation)
            heatmap = np.ascontiguousarray(pair.score_maps(point)[0], dtype=np.float32)
        except EngineError:
            break  # e.g. a point just off the image: a preview has nothing to say
        xy = (float(matches.match_xy[0, 0]), float(matches.match_xy[0, 1]))
        answers[variant.name] = VariantPreview(xy, float(matches.confidence[0]), heatmap, pair.target.frame)
    return PreviewAnswer(request.preview_id, answers)


def failure(request_id: int, variant: str, exc: Exception) -> Failure:
    """One line for the user; a bug (not an :class:`EngineError`) also prints its traceback."""
    if isinstance(exc, EngineError):
        return Failure(request_id, variant, str(exc))
    traceback.print_exc(file=sys.stderr)
    return Failure(request_id, variant, f"internal error ({type(exc).__name__}: {exc}); details on the console")
