"""Predicting a target's keypoints from several templates and keeping the most trustworthy guess.

Every reviewed image can serve as a template. Each template that has a keypoint predicts it on the
target (with its confidence and cycle error); :func:`engine.collections.review.most_trustworthy`
picks one per keypoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..images import LoadedImage
from ..matcher import Matcher
from ..prompts.spec import PromptSpec
from ..settings import FeatureSettings, LocalisationSettings
from .propagate import match_with_cycle
from .review import Candidate, ReviewThresholds, most_trustworthy


@dataclass(frozen=True)
class LabelledImage:
    """A template: an image and its keypoints by name (template pixels)."""

    name: str
    image: LoadedImage
    points: dict[str, tuple[float, float]]


def candidates_from_templates(
    matcher: Matcher,
    templates: Sequence[LabelledImage],
    target: LoadedImage,
    prompt: PromptSpec,
    settings: FeatureSettings,
    localisation: LocalisationSettings,
    thresholds: ReviewThresholds,
) -> dict[str, list[Candidate]]:
    """Per keypoint name, one candidate from every template that has it (in template order)."""
    candidates: dict[str, list[Candidate]] = {}
    for template in templates:
        if not template.points:
            continue
        names = list(template.points)
        xy = np.array([template.points[name] for name in names], dtype=np.float64)
        _, result, cycle = match_with_cycle(matcher, template.image, xy, target, prompt, settings, localisation)
        side = max(template.image.width, template.image.height)
        passes = thresholds.cycle_ok(cycle, side)
        for index, name in enumerate(names):
            candidates.setdefault(name, []).append(
                Candidate(
                    template=template.name,
                    xy=(float(result.match_xy[index, 0]), float(result.match_xy[index, 1])),
                    confidence=float(result.confidence[index]),
                    cycle_error=float(cycle[index]),
                    template_side=side,
                    cycle_ok=bool(passes[index]),
                )
            )
    return candidates


def predict_from_templates(
    matcher: Matcher,
    templates: Sequence[LabelledImage],
    target: LoadedImage,
    prompt: PromptSpec,
    settings: FeatureSettings,
    localisation: LocalisationSettings,
    thresholds: ReviewThresholds | None = None,
) -> dict[str, Candidate]:
    """The most trustworthy prediction of every keypoint some template has."""
    found = candidates_from_templates(
        matcher, templates, target, prompt, settings, localisation, thresholds or ReviewThresholds()
    )
    return {name: most_trustworthy(candidates) for name, candidates in found.items()}
