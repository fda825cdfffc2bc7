"""Propagating a collection's keypoints onto one image, on the engine thread.

The collection controller sends one :class:`PropagationRequest` per image and the next only when
the answer has come: a click meanwhile is computed between two images, so the window stays
interactive however long the collection. Each request predicts the template's points from every
template given (the template, then reviewed images) with
:func:`engine.collections.multi_template.candidates_from_templates` and keeps the most trustworthy
(:func:`engine.collections.review.most_trustworthy`); with one template the predictions are exactly
``sd4match match``'s.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import LocalisationSettings, load_image
from engine.collections.review import Candidate, ReviewThresholds, most_trustworthy
from engine.errors import EngineError
from engine.export.document import ImageRef
from engine.variants import Variant

from .messages import EngineConfig

if TYPE_CHECKING:
    from engine import Matcher


@dataclass(frozen=True)
class TemplateImage:
    """One template: its image file and point id -> pixels on it."""

    name: str
    path: Path
    points: dict[int, tuple[float, float]]


@dataclass(frozen=True, eq=False)
class PropagationRequest:
    """Predict ``point_ids`` of the first template on ``target``.

    Attributes:
        job_id: the collection job (answers of a cancelled job are dropped).
        pair_id: the target's pair in the session.
        target: the image file.
        point_ids: the keypoints to predict (ids of the first template's points).
        templates: the template first, then reviewed images; each predicts the ids it has.
        variant, localisation, engine: how to match (the session's primary variant).
    """

    job_id: int
    pair_id: str
    target: Path
    point_ids: tuple[int, ...]
    templates: tuple[TemplateImage, ...]
    variant: Variant
    localisation: LocalisationSettings
    engine: EngineConfig
    thresholds: ReviewThresholds


@dataclass(frozen=True, eq=False)
class PropagationResult:
    """One image's answer: per point id the winning candidate, the run details and image records,
    or an ``error`` for the user (the image is skipped)."""

    job_id: int
    pair_id: str
    predictions: dict[int, Candidate]
    run: dict[str, Any] | None = None
    template_ref: ImageRef | None = None
    target_ref: ImageRef | None = None
    error: str = ""


def propagate(matcher: Callable[[], Matcher], request: PropagationRequest) -> PropagationResult:
    """Answer ``request``; every failure becomes a one-line message naming the image."""
    try:
        return _propagate(matcher(), request)
    except EngineError as exc:
        return PropagationResult(request.job_id, request.pair_id, {}, error=f"{request.target.name}: {exc}")
    except Exception as exc:  # a bug must not kill the engine thread; the user sees one line
        traceback.print_exc(file=sys.stderr)
        message = f"{request.target.name}: internal error ({type(exc).__name__}: {exc}); details on the console"
        return PropagationResult(request.job_id, request.pair_id, {}, error=message)


def _propagate(matcher: Matcher, request: PropagationRequest) -> PropagationResult:
    from engine.collections.multi_template import LabelledImage, candidates_from_templates
    from engine.export.from_matches import image_ref, run_details

    target = load_image(request.target)
    wanted = set(request.point_ids)
    labelled = []
    for template in request.templates:
        points = {str(i): xy for i, xy in template.points.items() if i in wanted}
        if points:
            labelled.append(LabelledImage(template.name, load_image(template.path), points))
    if not labelled:
        return PropagationResult(request.job_id, request.pair_id, {})
    prompt, settings = request.variant.prompt, request.variant.settings
    found = candidates_from_templates(
        matcher, labelled, target, prompt, settings, request.localisation, request.thresholds
    )
    first = labelled[0].image
    run = run_details(matcher.prepare(first, target, prompt, settings), request.localisation)  # from the cache
    predictions = {int(key): most_trustworthy(candidates) for key, candidates in found.items()}
    return PropagationResult(request.job_id, request.pair_id, predictions, run, image_ref(first), image_ref(target))
