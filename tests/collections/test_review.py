"""Cycle error (features reused, not re-extracted), the review flag, and the choice among templates."""

from __future__ import annotations

import numpy as np
import pytest

from engine import FeatureSettings, LocalisationSettings, Matcher, PromptSpec
from engine.collections.review import Candidate, ReviewThresholds, cycle_errors, most_trustworthy, reversed_pair
from tests.conftest import TEST_SIZE

POINTS = np.array([[200.0, 180.0], [300.0, 200.5], [20.0, 30.0], [400.0, 420.0]])


@pytest.mark.parametrize("backend", ["sift", "sd"])
def test_cycle_error_maps_back_with_the_same_features(demo_images, fresh_matcher, backend):
    source, target = demo_images
    settings = FeatureSettings(backend=backend, size=TEST_SIZE, ensemble=1)
    localisation = LocalisationSettings()
    pair = fresh_matcher.prepare(source, target, PromptSpec(), settings)
    result = pair.match(POINTS, localisation)
    extracted = fresh_matcher.features.stats.misses
    assert extracted == 2

    errors = cycle_errors(pair, result, localisation)
    assert fresh_matcher.features.stats.misses == extracted  # nothing extracted for the way back
    back = reversed_pair(pair)
    assert back.source is pair.target and back.target is pair.source  # the very same feature maps
    # The way back by hand: match the predictions from target to source.
    expected = back.match(result.match_xy, localisation).match_xy
    np.testing.assert_array_equal(errors, np.linalg.norm(expected - POINTS, axis=1))
    assert errors.shape == (4,) and np.all(np.isfinite(errors)) and np.all(errors >= 0)


def test_an_image_against_itself_comes_back_close(demo_images):
    source, _ = demo_images
    pair = Matcher().prepare(source, source, PromptSpec(), FeatureSettings(backend="sift", size=TEST_SIZE))
    localisation = LocalisationSettings(method="argmax")
    errors = cycle_errors(pair, pair.match(POINTS, localisation), localisation)
    cell = source.width / (TEST_SIZE / 16)  # one feature cell in pixels
    assert np.all(errors <= cell)  # a point's own cell wins both ways: back within the cell it started in


def test_flag_on_either_threshold():
    thresholds = ReviewThresholds(max_cycle_error=0.05, min_confidence=0.3)
    cycle = np.array([4.0, 6.0, 4.0, 5.0])  # template side 100 -> 5 px allowed
    confidence = np.array([0.9, 0.9, 0.1, 0.3])
    assert thresholds.cycle_ok(cycle, 100).tolist() == [True, False, True, True]
    assert thresholds.flagged(cycle, confidence, 100).tolist() == [False, True, True, False]


def candidate(name: str, confidence: float, cycle: float, side: int = 100, ok: bool | None = None) -> Candidate:
    passes = cycle <= 5 if ok is None else ok
    return Candidate(name, (1.0, 2.0), confidence, cycle, side, passes)


def test_highest_confidence_among_those_passing_the_cycle_check():
    choices = [candidate("a", 0.9, 30.0), candidate("b", 0.5, 4.0), candidate("c", 0.6, 5.0)]
    assert most_trustworthy(choices).template == "c"  # "a" is more confident but does not come back


def test_when_none_passes_the_smallest_relative_cycle_error_wins():
    choices = [candidate("a", 0.9, 30.0), candidate("b", 0.1, 40.0, side=400, ok=False), candidate("c", 0.5, 12.0)]
    assert most_trustworthy(choices).template == "b"  # 40 px of 400 beats 12 px of 100


def test_ties_go_to_the_first_template_and_empty_is_refused():
    assert most_trustworthy([candidate("a", 0.5, 1.0), candidate("b", 0.5, 0.0)]).template == "a"
    assert most_trustworthy([candidate("a", 0.5, 9.0), candidate("b", 0.7, 9.0)]).template == "a"
    with pytest.raises(ValueError, match="no candidate"):
        most_trustworthy([])
