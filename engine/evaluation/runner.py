"""Evaluating variants on a dataset: plan the unfinished pairs, score them, collect the results.

Three steps, so that a launcher can put barriers between them (see ``sd4match eval``):

1. :func:`plan`: per variant, read what earlier runs saved and take this process's block of
   what is left;
2. :func:`execute`: match and score those pairs, saving as it goes;
3. :func:`collect` (main process): read every saved pair back in dataset order and summarise.

Feature maps are cached per image by the matcher, so pairs sharing an image extract it once per
process (CPM prompts depend on the pair, so CPM features are per pair).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import LRUCache
from ..datasets import PairSample
from ..errors import EngineError
from ..frames import clamp_to_image
from ..images import LoadedImage
from ..matcher import Matcher
from ..prompts.spec import PromptSpec
from ..settings import LocalisationSettings
from ..variants import Variant
from .distributed import ProcessGroup, per_pair_threads, shard
from .pck import ALPHAS
from .scores import PairScore, score_pair
from .store import ResultStore, results_folder
from .summary import GroupPck, summarise

DEFAULT_IMAGE_CACHE_BYTES = 256 << 20  # about 450 decoded 500 x 375 images


@dataclass(frozen=True)
class VariantPlan:
    """One variant's work in this process.

    Attributes:
        variant: with its backend resolved ("auto" -> "sd" or "sift").
        store: where its results are saved.
        todo: this process's share of the pairs not saved yet.
        resumed: how many pairs of the selection earlier runs already saved.
    """

    variant: Variant
    store: ResultStore
    todo: list[PairSample]
    resumed: int


@dataclass(frozen=True)
class VariantResult:
    """A variant's scores on every selected pair (dataset order) and their PCK summary."""

    variant: Variant
    scores: list[PairScore]
    summary: dict[str, dict[str, GroupPck]]


def select_pairs(samples: Sequence[PairSample], limit: int | None) -> list[PairSample]:
    """``limit`` pairs spread evenly over the dataset (so every category shows up), or all of them."""
    if limit is None or limit >= len(samples):
        return list(samples)
    if limit < 1:
        raise EngineError(f"--limit must be at least 1, got {limit}")
    return [samples[index * len(samples) // limit] for index in range(limit)]


def plan(
    samples: Sequence[PairSample],
    variants: Sequence[Variant],
    matcher: Matcher,
    localisation: LocalisationSettings,
    out: Path,
    dataset: dict[str, Any],
    group: ProcessGroup,
    save_every: int = 16,
) -> list[VariantPlan]:
    """Per variant: the saved pairs are skipped; the rest are split into ``group.count`` blocks."""
    plans = []
    for variant in variants:
        resolved = dataclasses.replace(
            variant,
            settings=dataclasses.replace(variant.settings, backend=matcher.resolve_backend(variant.settings.backend)),
        )
        identity = results_identity(resolved, localisation, matcher, dataset)
        store = ResultStore(results_folder(out, variant.name, identity), identity, group.index, save_every)
        done = store.completed()
        remaining = [sample for sample in samples if sample.pair_id not in done]
        plans.append(
            VariantPlan(resolved, store, shard(remaining, group.index, group.count), len(samples) - len(remaining))
        )
    return plans


def execute(
    plans: Sequence[VariantPlan],
    matcher: Matcher,
    localisation: LocalisationSettings,
    on_pair: Callable[[VariantPlan, PairScore], None] | None = None,
) -> None:
    """Score every planned pair, saving each; what was finished is saved even if this raises."""
    images = image_cache()
    for variant_plan in plans:
        try:
            for sample in variant_plan.todo:
                score = score_sample(matcher, sample, variant_plan.variant, localisation, images)
                variant_plan.store.add(score)
                if on_pair is not None:
                    on_pair(variant_plan, score)
        finally:
            variant_plan.store.flush()


def collect(
    plans: Sequence[VariantPlan], samples: Sequence[PairSample], alphas: tuple[float, ...] = ALPHAS
) -> list[VariantResult]:
    """Every variant's saved scores for ``samples``, in their order, with the PCK summary."""
    results = []
    for variant_plan in plans:
        saved = variant_plan.store.completed()
        missing = [sample.pair_id for sample in samples if sample.pair_id not in saved]
        if missing:
            raise EngineError(
                f"variant '{variant_plan.variant.name}': {len(missing)} pair(s) have no saved result "
                f"(e.g. {missing[0]}); a process stopped early: run the same command again to finish them"
            )
        scores = [saved[sample.pair_id] for sample in samples]
        results.append(VariantResult(variant_plan.variant, scores, summarise(scores, alphas)))
    return results


def image_cache(max_bytes: int = DEFAULT_IMAGE_CACHE_BYTES) -> LRUCache[LoadedImage]:
    """Decoded images by (path, flip): a dataset's pairs share images, and decoding one costs more
    than matching a pair (3 ms for a 500 x 375 JPEG on this project's CPU)."""
    return LRUCache(max_bytes, lambda image: image.rgb.nbytes)


def score_sample(
    matcher: Matcher,
    sample: PairSample,
    variant: Variant,
    localisation: LocalisationSettings,
    images: LRUCache[LoadedImage] | None = None,
) -> PairScore:
    """Match the sample's source points with one variant and score them against its targets."""
    images = images if images is not None else image_cache(0)
    source, target = (
        images.get_or_create((path, sample.flip), lambda path=path: sample.load_image(path))
        for path in (sample.source_path, sample.target_path)
    )
    pair = matcher.prepare(source, target, prompt_for(sample, variant.prompt), variant.settings)
    with per_pair_threads():  # the same summation order however many processes share the CPU
        result = pair.match(clamp_to_image(sample.source_points, source.width, source.height), localisation)
    return score_pair(sample, result.match_xy, pair.target.frame)


def prompt_for(sample: PairSample, prompt: PromptSpec) -> PromptSpec:
    """The variant's prompt with the pair's category (class prompts and ``{category}`` templates need it)."""
    return dataclasses.replace(prompt, category=sample.category) if sample.category else prompt


def results_identity(
    variant: Variant, localisation: LocalisationSettings, matcher: Matcher, dataset: dict[str, Any]
) -> dict[str, Any]:
    """Everything that changes a variant's numbers on a dataset (keys its results folder)."""
    settings = variant.settings
    identity: dict[str, Any] = {
        "dataset": dataset,
        # Dense SIFT depends only on the input size; the other settings concern SD.
        "settings": settings.to_dict() if settings.backend == "sd" else {"backend": "sift", "size": settings.size},
        "localisation": dataclasses.asdict(localisation),
    }
    if settings.backend == "sd":
        identity["prompt"] = variant.prompt.to_dict()
        identity["models"] = {"sd": matcher.sources.sd, "prompts": matcher.sources.prompts}
        if variant.prompt.depends_on_pair:
            identity["models"]["dinov2"] = matcher.sources.dinov2
        identity["precision"] = str(matcher.runtime.compute_dtype)
    return identity
