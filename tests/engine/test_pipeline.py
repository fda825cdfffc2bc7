"""The numbered pipeline is the Matcher's path: same calls, same bits."""

from __future__ import annotations

import numpy as np
import pytest

import engine.pipeline as pipeline
from engine import FeatureSettings, LocalisationSettings, PromptSpec, image_from_array
from engine.errors import SettingsError
from engine.settings import DualLayer
from tests.conftest import TEST_SIZE, random_rgb

POINTS = np.array([[0.0, 0.0], [12.5, 30.0], [49.0, 39.0], [-0.5, 20.25]])


@pytest.mark.parametrize(
    ("prompt", "settings", "localisation"),
    [
        # Three members, one per UNet call on the CPU; kernel soft-argmax.
        (
            PromptSpec("text", category="cat"),
            FeatureSettings(timestep=50, ensemble=3, size=TEST_SIZE, seed=4),
            LocalisationSettings(),
        ),
        # The pair-dependent prompt (DINOv2 + CPM), the dual-layer recipe and plain argmax.
        (
            PromptSpec("cpm"),
            FeatureSettings(timestep=261, ensemble=1, size=TEST_SIZE, dual_layer=DualLayer()),
            LocalisationSettings(method="argmax"),
        ),
    ],
)
def test_the_pipeline_equals_prepare_then_match_bit_for_bit(fresh_matcher, prompt, settings, localisation):
    source, target = image_from_array(random_rgb(40, 50, 11)), image_from_array(random_rgb(70, 30, 12))
    expected = fresh_matcher.prepare(source, target, prompt, settings).match(POINTS, localisation)
    fresh_matcher.features.clear()  # the pipeline computes its maps again; it must not read the Matcher's
    result = pipeline.sd4match(fresh_matcher, source, target, prompt, settings, POINTS, localisation)
    for name in ("query_xy", "match_xy", "confidence", "grid_xy"):
        assert np.array_equal(getattr(result, name), getattr(expected, name)), name
    assert fresh_matcher.features.stats.hits == 0


def test_the_matcher_runs_the_pipeline_steps(fresh_matcher, monkeypatch):
    calls = []
    original = pipeline.ensemble_sums

    def counted(backend, latent, noise, states, layer, timesteps, progress):
        calls.append((layer, timesteps, noise.shape[0]))
        return original(backend, latent, noise, states, layer, timesteps, progress)

    monkeypatch.setattr(pipeline, "ensemble_sums", counted)
    image = image_from_array(random_rgb(40, 40, 13))
    settings = FeatureSettings(timestep=261, layer=2, ensemble=2, size=TEST_SIZE)
    fresh_matcher.prepare(image, image_from_array(random_rgb(30, 40, 14)), PromptSpec(), settings)
    assert calls == [(2, (261,), 2), (2, (261,), 2)]


def test_the_pipeline_refuses_the_sift_backend(fresh_matcher):
    image = image_from_array(random_rgb(20, 20))
    with pytest.raises(SettingsError, match="Stable Diffusion"):
        pipeline.sd4match(fresh_matcher, image, image, PromptSpec(), FeatureSettings(backend="sift"), POINTS[:1])
