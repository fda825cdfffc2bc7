"""The progressive ensemble: running means after each round of UNet batches, final bits unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import (
    FeatureSettings,
    LocalisationSettings,
    Matcher,
    ModelSources,
    PromptSpec,
    image_from_array,
    resolve_runtime,
)
from engine.comparison import compare_variants
from engine.disk_cache import DiskCache
from engine.errors import Cancelled
from engine.progress import Progress
from engine.variants import parse_variants
from tests.conftest import TEST_SIZE, random_rgb

POINTS = np.array([[3.0, 4.0], [25.5, 19.0], [49.0, 39.0]])
# Five members: on the CPU one member per UNet call, so four partial rounds, then the final one.
FIVE = FeatureSettings(timestep=50, ensemble=5, size=TEST_SIZE, seed=3)
TWO_TIMESTEPS = FeatureSettings(timestep=50, extra_timesteps=(200,), ensemble=3, size=TEST_SIZE)


@pytest.fixture
def matcher_factory(tiny_sd_dir, tiny_dinov2_dir, tiny_prompts_dir):
    """New float32 CPU matchers with empty caches (optionally over a disk cache)."""

    def make(disk: DiskCache | None = None) -> Matcher:
        sources = ModelSources(sd=str(tiny_sd_dir), dinov2=str(tiny_dinov2_dir), prompts=str(tiny_prompts_dir))
        return Matcher(sources, runtime=resolve_runtime("cpu", "float32"), disk_cache=disk)

    return make


@pytest.fixture
def images():
    return image_from_array(random_rgb(40, 50, 21)), image_from_array(random_rgb(60, 30, 22))


def _same_pair(a, b) -> None:
    """Tolerance 0: the features and every matched number are the same bits."""
    assert torch.equal(a.source.features, b.source.features) and torch.equal(a.target.features, b.target.features)
    first, second = a.match(POINTS), b.match(POINTS)
    for name in ("match_xy", "confidence", "grid_xy"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


@pytest.mark.parametrize(
    "settings", [FIVE, FeatureSettings(timestep=50, extra_timesteps=(200,), ensemble=3, size=TEST_SIZE)]
)
def test_the_final_result_is_the_non_progressive_one_bit_for_bit(matcher_factory, images, settings, counters):
    plain = matcher_factory().prepare(*images, PromptSpec("text", category="cat"), settings)
    work = dict(counters)
    partials = []
    progressive = matcher_factory().prepare(
        *images, PromptSpec("text", category="cat"), settings, on_partial=partials.append
    )
    _same_pair(progressive, plain)
    # No extra model work: the same VAE and UNet passes as without the callback.
    assert {kind: counters[kind] - work[kind] for kind in work} == work
    assert partials and all(0 < p.done < p.passes for p in partials)


def test_partials_refine_after_each_member_on_the_cpu(matcher_factory, images):
    partials = []
    final = matcher_factory().prepare(*images, PromptSpec(), FIVE, on_partial=partials.append)
    assert [(p.done, p.passes) for p in partials] == [(1, 5), (2, 5), (3, 5), (4, 5)]
    first = partials[0].pair
    assert first.target.features.shape == final.target.features.shape
    assert not torch.equal(first.target.features, final.target.features)  # one member, not five
    assert np.isfinite(first.match(POINTS).match_xy).all()
    assert np.isfinite(first.score_maps(POINTS[:1])).all()


def test_only_the_final_maps_are_cached_in_memory_and_on_disk(matcher_factory, images, tmp_path):
    disk = DiskCache(tmp_path / "cache")
    matcher = matcher_factory(disk)
    final = matcher.prepare(*images, PromptSpec(), FIVE, on_partial=lambda partial: None)
    assert len(matcher.features) == 2
    # Another process reads the entries: they are the final maps, bit for bit.
    warm = matcher_factory(DiskCache(tmp_path / "cache")).prepare(*images, PromptSpec(), FIVE)
    _same_pair(warm, final)
    # A pair already cached has nothing to refine: no partial, the cached maps at once.
    partials = []
    again = matcher.prepare(*images, PromptSpec(), FIVE, on_partial=partials.append)
    assert partials == [] and again.source is final.source and again.target is final.target


def test_a_cached_image_is_used_whole_while_the_other_refines(matcher_factory, images):
    matcher = matcher_factory()
    first = matcher.prepare(*images, PromptSpec(), FIVE)
    partials = []
    other = image_from_array(random_rgb(50, 50, 23))
    matcher.prepare(images[0], other, PromptSpec(), FIVE, on_partial=partials.append)
    assert [(p.done, p.passes) for p in partials] == [(1, 5), (2, 5), (3, 5), (4, 5)]
    assert all(p.pair.source is first.source for p in partials)


def test_a_cancel_while_refining_caches_nothing(matcher_factory, images):
    matcher = matcher_factory()
    stop = []
    with pytest.raises(Cancelled):
        matcher.prepare(
            *images, PromptSpec(), FIVE, Progress(cancel_requested=lambda: bool(stop)), on_partial=stop.append
        )
    assert len(stop) == 1 and len(matcher.features) == 0


def test_compare_variants_reports_partials_and_returns_the_plain_answers(matcher_factory, images):
    variants = parse_variants("text:a cat,sift", PromptSpec(), FIVE)
    localisation = LocalisationSettings()
    partials = []
    answers = compare_variants(matcher_factory(), *images, variants, POINTS, localisation, on_partial=partials.append)
    plain = compare_variants(matcher_factory(), *images, variants, POINTS, localisation)
    assert [(p.variant.name, p.done, p.passes) for p in partials] == [("text:a cat", k, 5) for k in range(1, 5)]
    assert [a.variant.name for a in answers] == ["text:a cat", "sift"] and all(a.final for a in answers)
    for answer, expected in zip(answers, plain, strict=True):
        _same_pair(answer.pair, expected.pair)
        assert np.array_equal(answer.result.match_xy, expected.result.match_xy)
