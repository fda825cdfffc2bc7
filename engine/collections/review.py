"""How far to trust a propagated keypoint: the cycle error, the review flag, and the choice among templates.

Cycle error: a template point ``p`` is matched to ``q`` on the target; ``q`` is then matched back
to the template (target -> template, the same features with the roles swapped) and lands on
``p'``. ``|p' - p|`` in template pixels is the cycle error. A correct match usually comes back to
where it started; a match on a look-alike part (the other eye, a repeated texture) often does not.

A prediction is flagged for review when its cycle error exceeds a share of the template's longer
side or its confidence falls below a floor (:class:`ReviewThresholds`; the defaults are measured,
see docs/collections.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..frames import clamp_to_image
from ..settings import LocalisationSettings
from . import DEFAULT_MAX_CYCLE_ERROR, DEFAULT_MIN_CONFIDENCE

if TYPE_CHECKING:  # torch: the app reads thresholds and candidates before any model loads
    from ..prepared_pair import MatchResult, PreparedPair


@dataclass(frozen=True)
class ReviewThresholds:
    """When a prediction needs a person's look.

    The defaults are those that flagged the fewest predictions while catching at least 95 % of the
    wrong ones (dense SIFT at 768 px, one demo image; docs/collections.md, engine/bench/propagation_quality.py).

    Attributes:
        max_cycle_error: flagged above this cycle error, as a fraction of the template's longer side
            (the normalisation of PCK, so one value suits small and large images).
        min_confidence: flagged below this confidence (:func:`engine.localisation.confidence`).
    """

    max_cycle_error: float = DEFAULT_MAX_CYCLE_ERROR
    min_confidence: float = DEFAULT_MIN_CONFIDENCE

    def cycle_ok(self, cycle_error_px: np.ndarray, template_side: int) -> np.ndarray:
        """``N`` booleans: which cycle errors pass (``template_side``: max(W, H) of the template)."""
        return np.asarray(cycle_error_px, dtype=np.float64) <= self.max_cycle_error * template_side

    def flagged(self, cycle_error_px: np.ndarray, confidence: np.ndarray, template_side: int) -> np.ndarray:
        """``N`` booleans: which predictions need review (cycle error too large or confidence too low)."""
        return ~self.cycle_ok(cycle_error_px, template_side) | (np.asarray(confidence) < self.min_confidence)


def reversed_pair(pair: PreparedPair) -> PreparedPair:
    """The same pair matched the other way: its feature maps swapped, nothing extracted again."""
    from ..prepared_pair import PreparedPair

    return PreparedPair(pair.target_image, pair.source_image, pair.target, pair.source, pair.run)


def cycle_errors(pair: PreparedPair, result: MatchResult, localisation: LocalisationSettings) -> np.ndarray:
    """``N`` distances in template (source) pixels between each query and its match mapped back.

    Args:
        pair: the template -> target pair that produced ``result``.
        result: its matches of the template's points.
        localisation: the settings ``result`` was computed with (the way back uses the same).
    """
    if len(result) == 0:
        return np.zeros(0)
    # Predictions lie on the target grid, inside the image up to float rounding.
    back_from = clamp_to_image(result.match_xy, pair.target_image.width, pair.target_image.height)
    back = reversed_pair(pair).match(back_from, localisation)
    return np.linalg.norm(back.match_xy - result.query_xy, axis=1)


@dataclass(frozen=True)
class Candidate:
    """One template's prediction of a keypoint on a target.

    Attributes:
        template: which template predicted it (any id the caller uses).
        xy: the prediction, target pixels.
        confidence: in [0, 1].
        cycle_error: template pixels.
        template_side: max(W, H) of that template, to compare cycle errors across templates.
        cycle_ok: whether the cycle error passes :meth:`ReviewThresholds.cycle_ok`.
    """

    template: str
    xy: tuple[float, float]
    confidence: float
    cycle_error: float
    template_side: int
    cycle_ok: bool

    @property
    def relative_cycle_error(self) -> float:
        return self.cycle_error / self.template_side


def most_trustworthy(candidates: Sequence[Candidate]) -> Candidate:
    """The prediction to keep when several templates predict the same keypoint.

    Among the candidates that pass the cycle check, the one with the highest confidence; when none
    passes, the one with the smallest cycle error relative to its template's longer side. Remaining
    ties go to the earlier candidate (the caller's template order), so the choice depends on nothing
    else.
    """
    if not candidates:
        raise ValueError("no candidate predictions to choose from")
    passed = [c for c in candidates if c.cycle_ok]
    if passed:
        return max(passed, key=lambda c: c.confidence)  # max and min keep the first of equal keys
    return min(candidates, key=lambda c: c.relative_cycle_error)
