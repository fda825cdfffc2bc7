"""Comparing variants on the same points: each variant's matches (progressively if asked), and how
far apart their predictions land."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .progress import SILENT, Progress

if TYPE_CHECKING:  # the command line imports this module for its table; the models are loaded by then
    from .images import LoadedImage
    from .matcher import Matcher
    from .prepared_pair import MatchResult, PartialPair, PreparedPair
    from .settings import LocalisationSettings
    from .variants import Variant


def prediction_spread(predictions: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest distance between any two variants' predictions of each point.

    Args:
        predictions: ``V x N x 2`` target pixels, V variants by N points.
        width, height: target image size; the fraction is relative to ``max(width, height)``.

    Returns:
        ``(pixels, fraction)``, each of length N (zeros when there are fewer than two variants).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.shape[0] < 2:
        zeros = np.zeros(predictions.shape[1])
        return zeros, zeros
    differences = predictions[:, None, :, :] - predictions[None, :, :, :]  # V x V x N x 2
    pixels = np.linalg.norm(differences, axis=-1).max(axis=(0, 1))
    return pixels, pixels / max(width, height)


@dataclass(frozen=True, eq=False)
class VariantMatch:
    """One variant's answer on the compared points.

    Attributes:
        variant: what was computed.
        pair: the prepared pair (running means while ``done < passes``).
        result: the matches of the compared points.
        done, passes: UNet member passes averaged so far and in all (equal once final; 1 and 1 for
            a backend without an ensemble).
    """

    variant: Variant
    pair: PreparedPair
    result: MatchResult
    done: int = 1
    passes: int = 1

    @property
    def final(self) -> bool:
        return self.done == self.passes


def compare_variants(
    matcher: Matcher,
    source: LoadedImage,
    target: LoadedImage,
    variants: list[Variant],
    points_xy: np.ndarray,
    localisation: LocalisationSettings | None = None,
    progress: Progress = SILENT,
    on_partial: Callable[[VariantMatch], None] | None = None,
) -> list[VariantMatch]:
    """Match the same ``N x 2`` source points under each variant, in order (``sd4match compare``).

    Args:
        progress: receives stage names, prefixed with the variant's name.
        on_partial: receives each variant's matches on its running ensemble means as they refine
            (the progressive ensemble, :meth:`engine.matcher.Matcher.prepare`); the returned final
            answers are the same bits as without it.

    Returns:
        The final answer of every variant.
    """
    answers = []
    for variant in variants:

        def partial(running: PartialPair, variant: Variant = variant) -> None:
            assert on_partial is not None
            result = running.pair.match(points_xy, localisation)
            on_partial(VariantMatch(variant, running.pair, result, running.done, running.passes))

        pair = matcher.prepare(
            source,
            target,
            variant.prompt,
            variant.settings,
            progress.prefixed(f"{variant.name}: "),
            None if on_partial is None else partial,
        )
        answers.append(VariantMatch(variant, pair, pair.match(points_xy, localisation)))
    return answers
