"""Messages between the GUI and the engine worker: frozen values carrying numpy, never tensors.

Every request has an id; every answer repeats it, so the GUI can drop answers to requests it has
since replaced. Coordinates are original-image pixels ((0, 0) = centre of the top-left pixel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import LoadedImage, LocalisationSettings, MatchResult, ModelSources
from engine.frames import GridFrame
from engine.variants import Variant


@dataclass(frozen=True)
class EngineConfig:
    """What a :class:`~engine.Matcher` is built from: model locations, device and precision."""

    sources: ModelSources = field(default_factory=ModelSources)
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True, eq=False)
class ComputeRequest:
    """Predict every point of a pair under each variant, plus one point's heatmap.

    Attributes:
        request_id: increasing; answers carry it back.
        source, target: the decoded images (read-only arrays, safe to share across threads).
        variants: computed in this order (the views the user sees first come first).
        localisation: score map -> point.
        points_xy: ``N x 2`` source pixels (may be empty: then only features are prepared).
        heatmap_row: row of ``points_xy`` whose score map is returned, or None.
        engine: which matcher to use (a change rebuilds it).
        refuse_fallback: a variant whose "auto" backend would become SIFT for want of weights
            fails instead (comparisons must not show SIFT under prompt names).
    """

    request_id: int
    source: LoadedImage
    target: LoadedImage
    variants: tuple[Variant, ...]
    localisation: LocalisationSettings
    points_xy: np.ndarray
    heatmap_row: int | None
    engine: EngineConfig
    refuse_fallback: bool = False

    def needs(self, source_digest: str, target_digest: str, variant: Variant) -> bool:
        """Whether this request computes ``variant`` on that image pair (names do not matter)."""
        return (self.source.digest, self.target.digest) == (source_digest, target_digest) and any(
            (v.prompt, v.settings) == (variant.prompt, variant.settings) for v in self.variants
        )


@dataclass(frozen=True, eq=False)
class VariantResult:
    """One variant's answer.

    Attributes:
        request_id, variant: what it answers (``variant`` is the variant's name).
        run: run details for exports (backend, model, features, prompt, matching).
        matches: predictions of all request points.
        heatmap: ``h x w`` float32 cosine scores of the heatmap point on the target grid, or None.
        frame: the target's grid geometry (where heatmap cells lie in pixels).
    """

    request_id: int
    variant: str
    run: dict[str, Any]
    matches: MatchResult
    heatmap: np.ndarray | None
    frame: GridFrame


@dataclass(frozen=True)
class Failure:
    """A request (or one of its variants) failed; ``message`` is one line for the user."""

    request_id: int
    variant: str | None
    message: str
    cancelled: bool = False


@dataclass(frozen=True)
class ProgressReport:
    """A stage of an expensive step: ``fraction`` in [0, 1] within ``stage``."""

    request_id: int
    variant: str
    stage: str
    fraction: float


@dataclass(frozen=True)
class WeightsStatus:
    """Whether SD weights are on disk: None, or the engine's message saying how to get them."""

    sd_missing: str | None
