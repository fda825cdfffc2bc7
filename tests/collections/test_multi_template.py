"""Several templates: every template that has a keypoint predicts it; the rule picks one."""

from __future__ import annotations

import numpy as np

from engine import FeatureSettings, LocalisationSettings, Matcher, PromptSpec
from engine.collections.multi_template import LabelledImage, candidates_from_templates, predict_from_templates
from engine.collections.review import ReviewThresholds, most_trustworthy
from engine.evaluation.distributed import per_pair_threads
from engine.images import image_from_array
from tests.conftest import TEST_SIZE


def test_each_keypoint_from_every_template_that_has_it(demo_images):
    source, target = demo_images
    flipped = image_from_array(source.rgb[:, ::-1])
    templates = [
        LabelledImage("a", source, {"eye": (200.0, 180.0), "hand": (300.0, 200.5)}),
        LabelledImage("empty", target, {}),
        LabelledImage("b", flipped, {"hand": (511 - 300.0, 200.5), "foot": (100.0, 450.0)}),
    ]
    settings, localisation = FeatureSettings(backend="sift", size=TEST_SIZE), LocalisationSettings()
    matcher, thresholds = Matcher(), ReviewThresholds()
    found = candidates_from_templates(matcher, templates, target, PromptSpec(), settings, localisation, thresholds)
    assert {name: [c.template for c in found[name]] for name in found} == {
        "eye": ["a"], "hand": ["a", "b"], "foot": ["b"]
    }  # fmt: skip
    # Each candidate is what matching that template's points onto the target gives.
    points = np.array([[211.0, 200.5], [100.0, 450.0]])
    with per_pair_threads():
        expected = matcher.prepare(flipped, target, PromptSpec(), settings).match(points, localisation)
    for index, name in enumerate(("hand", "foot")):
        assert found[name][-1].xy == tuple(expected.match_xy[index])
        assert found[name][-1].confidence == expected.confidence[index]
    assert found["hand"][1].template_side == 512
    assert found["hand"][1].cycle_ok == (found["hand"][1].cycle_error <= 0.05 * 512)
    chosen = predict_from_templates(matcher, templates, target, PromptSpec(), settings, localisation)
    assert chosen == {name: most_trustworthy(candidates) for name, candidates in found.items()}
