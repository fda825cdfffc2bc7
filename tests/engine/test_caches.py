"""Caches skip work: VAE latents across prompts and timesteps, features across calls, prompts."""

from __future__ import annotations

import dataclasses

import torch

from engine import FeatureSettings, PromptSpec, image_from_array
from engine.cache import LRUCache
from tests.conftest import TEST_SIZE, random_rgb


def test_second_prepare_is_a_feature_cache_hit(fresh_matcher, counters):
    a, b = image_from_array(random_rgb(40, 50, 1)), image_from_array(random_rgb(60, 30, 2))
    settings = FeatureSettings(ensemble=1, size=TEST_SIZE)
    first = fresh_matcher.prepare(a, b, PromptSpec(), settings)
    assert fresh_matcher.features.stats.misses == 2 and counters == {"vae": 2, "unet": 2}
    second = fresh_matcher.prepare(a, b, PromptSpec(), settings)
    assert fresh_matcher.features.stats.hits == 2 and counters == {"vae": 2, "unet": 2}
    assert second.source.features is first.source.features


def test_switching_prompt_or_timestep_reuses_the_vae_latent(fresh_matcher, counters):
    a, b = image_from_array(random_rgb(40, 50, 3)), image_from_array(random_rgb(60, 30, 4))
    settings = FeatureSettings(ensemble=1, size=TEST_SIZE)
    fresh_matcher.prepare(a, b, PromptSpec(), settings)
    fresh_matcher.prepare(a, b, PromptSpec("text", text="a photo of a cat"), settings)
    fresh_matcher.prepare(a, b, PromptSpec(), dataclasses.replace(settings, timestep=261, seed=5))
    assert counters["vae"] == 2  # once per image, whatever the prompt, timestep or seed
    assert counters["unet"] == 6


def test_the_same_pixels_from_two_sources_share_features(fresh_matcher):
    rgb = random_rgb(40, 40, 5)
    settings = FeatureSettings(ensemble=1, size=TEST_SIZE)
    fresh_matcher.prepare(image_from_array(rgb), image_from_array(rgb.copy()), PromptSpec(), settings)
    assert fresh_matcher.features.stats.misses == 1 and fresh_matcher.features.stats.hits == 1


def test_prompt_conditioning_is_cached(fresh_matcher):
    image = image_from_array(random_rgb(20, 20))
    builder = fresh_matcher.prompts
    spec = PromptSpec("text", text="a photo of a {category}", category="cat")
    first = builder.conditioning(spec, image, image)
    second = builder.conditioning(PromptSpec("text", text="a photo of a cat"), image, image)
    assert second is first and builder.cache.stats.hits == 1
    assert builder.conditioning(PromptSpec("empty"), image, image).identity == "text:"


def test_lru_evicts_by_bytes_and_counts():
    cache: LRUCache[torch.Tensor] = LRUCache(3 * 400, lambda t: t.numel() * t.element_size())
    for key in range(4):
        cache.get_or_create(key, lambda: torch.zeros(100))
    assert len(cache) == 3 and 0 not in cache and cache.bytes_used == 1200
    cache.get_or_create(1, lambda: torch.ones(100))
    assert cache.stats.hits == 1 and cache.stats.misses == 4
    cache.put("huge", torch.zeros(10_000))  # larger than the whole budget: not kept
    assert "huge" not in cache
