"""Messages between the GUI and the engine worker: frozen values carrying numpy, never tensors.

Every request has an id; every answer repeats it, so the GUI can drop answers to requests it has
since replaced. Coordinates are original-image pixels ((0, 0) = centre of the top-left pixel).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import LoadedImage, LocalisationSettings, ModelSources
from engine.disk_cache import DEFAULT_DISK_CACHE_BYTES
from engine.export.document import CorrespondenceDocument
from engine.frames import GridFrame
from engine.variants import Variant

if TYPE_CHECKING:  # engine.training pulls in accelerate (0.3 s): imported only once a prompt is tuned
    from engine import MatchResult  # torch: imported by the engine thread, after the window shows
    from engine.training import TrainingConfig, TrainingResult


@dataclass(frozen=True)
class EngineConfig:
    """What a :class:`~engine.Matcher` is built from: model locations, device and precision, and
    the bound of the feature cache on disk (a change of that alone keeps the loaded models)."""

    sources: ModelSources = field(default_factory=ModelSources)
    device: str = "auto"
    dtype: str = "auto"
    cache_bytes: int = DEFAULT_DISK_CACHE_BYTES

    def same_models(self, other: EngineConfig) -> bool:
        """Whether ``other`` builds the same models (it may bound the disk cache differently)."""
        return dataclasses.replace(self, cache_bytes=other.cache_bytes) == other


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
class PrefetchRequest:
    """Compute the features of pairs the user has not opened yet, in idle time (the next ones of a
    pair list or dataset): work that gives way at once to anything the user asks for.

    Attributes:
        pairs: ``(source, target)`` image files, the nearest first.
        variants: those on screen, in their order (the next pair will ask for them).
        engine: the matcher they are for; a plan for other models than the loaded ones is ignored.
        refuse_fallback: as :class:`ComputeRequest` (a variant that would fall back to SIFT is skipped).
    """

    pairs: tuple[tuple[Path, Path], ...]
    variants: tuple[Variant, ...]
    engine: EngineConfig
    refuse_fallback: bool = False


@dataclass(frozen=True)
class Prefetched:
    """One variant of one pair ahead is in the feature cache (or could not be computed: ``error``)."""

    source: Path
    target: Path
    variant: str
    error: str = ""


@dataclass(frozen=True, eq=False)
class VariantResult:
    """One variant's answer.

    Attributes:
        request_id, variant: what it answers (``variant`` is the variant's name).
        run: run details for exports (backend, model, features, prompt, matching).
        matches: predictions of all request points.
        heatmap: ``h x w`` float32 cosine scores of the heatmap point on the target grid, or None.
        frame: the target's grid geometry (where heatmap cells lie in pixels).
        ensemble: ``(k, E)`` for a partial answer from the running means of k of E ensemble
            members (more follow, then the final one); None for the final answer.
    """

    request_id: int
    variant: str
    run: dict[str, Any]
    matches: MatchResult
    heatmap: np.ndarray | None
    frame: GridFrame
    ensemble: tuple[int, int] | None = None

    @property
    def partial(self) -> bool:
        return self.ensemble is not None


@dataclass(frozen=True, eq=False)
class PreviewRequest:
    """Where the source point under the cursor would land, from features already computed.

    A preview never starts an extraction: variants whose features the last computation of this
    pair did not prepare are skipped (the hover must stay in milliseconds).

    Attributes:
        preview_id: increasing; answers carry it back.
        source_digest, target_digest: the open pair.
        variants: the variants on screen.
        localisation: score map -> point.
        point_xy: the source pixel under the cursor.
        engine: the models asked for: pairs prepared by others are not used (the settings changed).
    """

    preview_id: int
    source_digest: str
    target_digest: str
    variants: tuple[Variant, ...]
    localisation: LocalisationSettings
    point_xy: tuple[float, float]
    engine: EngineConfig


@dataclass(frozen=True, eq=False)
class VariantPreview:
    """One variant's preview of the hovered pixel.

    Attributes:
        xy: predicted target pixel; confidence: in [0, 1].
        heatmap: ``h x w`` float32 cosine scores on the target grid ``frame``.
    """

    xy: tuple[float, float]
    confidence: float
    heatmap: np.ndarray
    frame: GridFrame


@dataclass(frozen=True, eq=False)
class PreviewAnswer:
    """The answer to a :class:`PreviewRequest`, always sent, even when empty.

    Attributes:
        preview_id: the request it answers.
        variants: variant name -> its preview, for the variants whose features were prepared.
    """

    preview_id: int
    variants: dict[str, VariantPreview]


@dataclass(frozen=True, eq=False)
class PairPoints:
    """One annotated pair of an export: its image files and its points (``N x 2`` source pixels)."""

    pair_id: str
    source: Path
    target: Path
    point_ids: tuple[int, ...]
    points_xy: np.ndarray


@dataclass(frozen=True, eq=False)
class HeatmapsRequest:
    """Predictions and similarity maps of every point of ``pairs`` under each variant, for an export
    with heatmap files. Unlike a click, this extracts whatever features are missing (with progress
    and a cancel between stages).

    Attributes:
        refuse_fallback: as :class:`ComputeRequest` (comparisons must not show SIFT under prompt names).
    """

    pairs: tuple[PairPoints, ...]
    variants: tuple[Variant, ...]
    localisation: LocalisationSettings
    engine: EngineConfig
    refuse_fallback: bool = False


@dataclass(frozen=True, eq=False)
class PairHeatmaps:
    """One pair under one variant: the run, its predictions and maps (``N x h x w``, rows as ``point_ids``)."""

    pair_id: str
    variant: str
    run: dict[str, Any]
    point_ids: tuple[int, ...]
    matches: MatchResult
    maps: np.ndarray


@dataclass(frozen=True)
class HeatmapsOutcome:
    """How a :class:`HeatmapsRequest` ended: every pair-variant's maps, or an error, or cancelled."""

    results: tuple[PairHeatmaps, ...] = ()
    error: str = ""
    cancelled: bool = False


@dataclass(frozen=True)
class Failure:
    """A request (or one of its variants) failed; ``message`` is one line for the user."""

    request_id: int
    variant: str | None
    message: str
    cancelled: bool = False


@dataclass(frozen=True)
class ProgressReport:
    """Where the running computation stands.

    Attributes:
        request_id: the newest request this work serves (a superseded request whose extraction the
            newer one needs reports under the newer id: its work is what the user waits for).
        variant: the variant being computed; stage: the engine's name of the step that started.
        fraction: of the whole computation (every variant), in [0, 1]; it never goes back.
        text: the step in the user's words, with the time left, e.g. "Preparing image 1 of 2
            (Stable Diffusion, member 3/8) — about 40 s left".
    """

    request_id: int
    variant: str
    stage: str
    fraction: float
    text: str = ""


@dataclass(frozen=True)
class WeightsStatus:
    """Whether SD weights are on disk: None, or the engine's message saying how to get them."""

    sd_missing: str | None


@dataclass(frozen=True, eq=False)
class TrainingRequest:
    """Tune a prompt on the engine thread (which owns the Matcher and its models).

    Attributes:
        config: the run's settings (variant, prompt set name, epochs, batch size, ...).
        document: the session's export; its accepted and corrected points are the training data,
            read exactly as ``sd4match tune ... json`` reads an export (``engine.datasets.exported``).
        provenance: how the run's sidecar describes the data.
        engine: which matcher; the prompt goes into its prompt library folder.
        resume: continue the run a cancel stopped; overwrite: replace an earlier run of this name.
    """

    config: TrainingConfig
    document: CorrespondenceDocument
    provenance: dict[str, Any]
    engine: EngineConfig
    resume: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class TrainingOutcome:
    """How a tuning run ended: ``result`` (``result.stopped`` after a cancel), or an ``error`` for the user."""

    result: TrainingResult | None
    error: str = ""
