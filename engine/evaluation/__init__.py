"""Scoring correspondences against ground truth: PCK helpers (pure numpy) and dataset evaluation.

For one pair, e.g. in the app (``N x 2`` original target pixels in, fractions out)::

    from engine.evaluation import measure
    by_frame = measure(predicted, ground_truth, "image", None, prepared_pair.target.frame)
    by_frame["pixels"].errors, by_frame["square"].pck()     # per-point errors; PCK@0.05/0.1/0.15

Whole datasets go through :mod:`engine.evaluation.runner` (``sd4match eval``).
"""

from .pck import (
    ALPHAS,
    FRAMES,
    Measurement,
    correct_points,
    measure,
    pck,
    point_errors,
    reference_length,
    regularise_coordinates,
)
from .scores import PairScore, score_pair
from .summary import OVERALL, GroupPck, summarise

__all__ = [
    "ALPHAS",
    "FRAMES",
    "OVERALL",
    "GroupPck",
    "Measurement",
    "PairScore",
    "correct_points",
    "measure",
    "pck",
    "point_errors",
    "reference_length",
    "regularise_coordinates",
    "score_pair",
    "summarise",
]
