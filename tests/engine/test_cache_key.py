"""The feature-cache key is derived from every FeatureSettings field, so no field can serve stale features."""

from __future__ import annotations

import dataclasses

from engine import FeatureSettings, PromptSpec, image_from_array
from engine.cache import fields_key
from engine.settings import DualLayer
from tests.conftest import TEST_SIZE, random_rgb

CHANGED = {  # one valid value per field, different from its default
    "backend": "sift",
    "timestep": 261,
    "layer": 2,
    "ensemble": 4,
    "size": 512,
    "seed": 3,
    "extra_timesteps": (100,),
    "dual_layer": DualLayer(),
}


def test_changing_any_field_changes_the_key():
    names = {field.name for field in dataclasses.fields(FeatureSettings)}
    assert names == set(CHANGED), "a FeatureSettings field was added: give it a changed value here"
    base = FeatureSettings()
    for name, value in CHANGED.items():
        assert fields_key(dataclasses.replace(base, **{name: value})) != fields_key(base), name
    assert fields_key(FeatureSettings()) == fields_key(base)  # equal settings, equal keys


@dataclasses.dataclass(frozen=True)
class WithNewField(FeatureSettings):
    """FeatureSettings as it would be after someone adds a field that changes the features."""

    novel: int = 0


def test_a_new_settings_field_is_a_feature_cache_miss(fresh_matcher):
    image = image_from_array(random_rgb(40, 50, 7))
    fresh_matcher.prepare(image, image, PromptSpec(), WithNewField(ensemble=1, size=TEST_SIZE, novel=0))
    fresh_matcher.prepare(image, image, PromptSpec(), WithNewField(ensemble=1, size=TEST_SIZE, novel=1))
    assert fresh_matcher.features.stats.misses == 2  # not served the novel=0 features
