"""Variant strings, and the exploratory feature recipes (dual layer, multi-timestep)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from engine import FeatureSettings, PromptSpec, image_from_array
from engine.errors import SettingsError
from engine.features.feature_map import combine_dual_layer
from engine.settings import DualLayer
from engine.variants import parse_variants
from tests.conftest import TEST_SIZE, random_rgb


def test_the_issue_example_parses():
    variants = parse_variants("single,class:cat,cpm,text", PromptSpec(category="dog"), FeatureSettings())
    assert [v.prompt.variant for v in variants] == ["single", "class", "cpm", "text"]
    assert variants[1].prompt.category == "cat" and variants[3].prompt.resolved_text() == "a photo of a dog"


def test_options_and_free_text():
    (variant,) = parse_variants("text:a red car@t=261@layer=2@ensemble=4@ts=100+200", PromptSpec(), FeatureSettings())
    assert variant.prompt.resolved_text() == "a red car"
    assert variant.settings.timesteps == (261, 100, 200) and variant.settings.layer == 2
    assert variant.settings.ensemble == 4 and variant.exploratory


@pytest.mark.parametrize(
    ("text", "message"),
    [("bogus", "unknown variant 'bogus'"), ("empty@t=x", "needs an integer"), ("empty@zoom=2", "unknown option"),
     ("empty,empty", "repeat"), ("", "no variants")],
)  # fmt: skip
def test_bad_variant_strings(text, message):
    with pytest.raises(SettingsError, match=message):
        parse_variants(text, PromptSpec(), FeatureSettings())


def test_dual_layer_combination_matches_the_recipe():
    coarse, fine = torch.randn(6, 4, 4), torch.randn(3, 8, 8)
    combined = combine_dual_layer(coarse, fine, (0.8, 0.6))
    assert combined.shape == (9, 8, 8)
    upsampled = F.interpolate(coarse[None], size=(8, 8), mode="bicubic", align_corners=True)[0]
    torch.testing.assert_close(combined[:6], 0.8 * F.normalize(upsampled, dim=0, eps=1e-6))
    torch.testing.assert_close(combined[6:], 0.6 * F.normalize(fine, dim=0, eps=1e-6))
    torch.testing.assert_close(combined.norm(dim=0), torch.ones(8, 8))  # 0.8^2 + 0.6^2 = 1


def test_dual_layer_and_multi_timestep_features_from_the_engine(tiny_matcher):
    image = image_from_array(random_rgb(40, 40, 21))
    base = FeatureSettings(ensemble=1, size=TEST_SIZE, timestep=261)

    def features(**changes):
        return tiny_matcher.prepare(image, image, PromptSpec(), replace(base, **changes)).source.features

    dual = features(dual_layer=DualLayer())
    assert tuple(dual.shape) == (64 + 64, 32, 32)  # layer 1 (64 x 16^2) brought up to layer 2's 32^2
    one, other, averaged = features(), features(timestep=50), features(extra_timesteps=(50,))
    torch.testing.assert_close(averaged, (one + other) / 2)
