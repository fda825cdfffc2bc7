"""Localisation: kernel soft-argmax against a brute-force evaluation of the formula, and the rest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.features import FeatureMap
from engine.images import image_from_array
from engine.localisation import confidence, localise, sample_features
from engine.prepared_pair import PreparedPair
from engine.settings import LocalisationSettings
from tests.conftest import random_rgb


def brute_force_kernel_soft_argmax(scores: np.ndarray, sigma: float, temperature: float) -> tuple[float, float]:
    """docs/algorithm.md#localisation (kernel) written out cell by cell, in float64."""
    height, width = scores.shape
    best = np.unravel_index(np.argmax(scores), scores.shape)
    y_star, x_star = best
    weighted = np.empty_like(scores, dtype=np.float64)
    for y in range(height):
        for x in range(width):
            kernel = math.exp(-((x - x_star) ** 2 + (y - y_star) ** 2) / (2 * sigma**2))
            weighted[y, x] = scores[y, x] * kernel
    exps = np.exp((weighted - weighted.max()) / temperature)
    probs = exps / exps.sum()
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    return float((probs * xs).sum()), float((probs * ys).sum())


def test_kernel_soft_argmax_matches_brute_force():
    rng = np.random.default_rng(3)
    scores = rng.uniform(-1, 1, size=(5, 12, 17)).astype(np.float32)
    points, _ = localise(torch.from_numpy(scores), "kernel", sigma=7.0, temperature=0.04)
    for index in range(len(scores)):
        expected = brute_force_kernel_soft_argmax(scores[index].astype(np.float64), 7.0, 0.04)
        np.testing.assert_allclose(points[index].numpy(), expected, atol=1e-4)


def test_kernel_suppresses_a_distant_rival_that_plain_soft_argmax_averages_in():
    scores = torch.full((1, 20, 20), -0.2)
    scores[0, 2, 2] = 0.9
    scores[0, 17, 17] = 0.88  # a rival far away
    kernel, _ = localise(scores, "kernel", sigma=2.0, temperature=0.04)
    plain, _ = localise(scores, "softargmax", sigma=2.0, temperature=0.04)
    assert torch.allclose(kernel[0], torch.tensor([2.0, 2.0]), atol=0.05)
    assert plain[0, 0] > 6  # pulled towards the rival


def test_argmax_returns_the_first_best_cell():
    scores = torch.zeros((1, 4, 5))
    scores[0, 1, 3] = 1
    scores[0, 2, 0] = 1
    points, probabilities = localise(scores, "argmax", 7, 0.04)
    assert points[0].tolist() == [3.0, 1.0]
    assert probabilities.sum() == 1


def test_confidence_is_high_for_a_single_peak_and_low_for_two():
    one = torch.full((1, 16, 16), 0.0)
    one[0, 8, 8] = 1.0
    two = one.clone()
    two[0, 1, 1] = 1.0
    peak = torch.tensor([[8.0, 8.0]])
    assert confidence(one, peak, 0.04) > 0.99
    assert 0.45 < confidence(two, peak, 0.04) < 0.55


def test_sampling_interpolates_bilinearly_and_clamps():
    features = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    sampled = sample_features(features, torch.tensor([[1.5, 0.5], [10.0, -3.0]]))
    expected = features[:, 0:2, 1:3].mean(dim=(1, 2))
    torch.testing.assert_close(sampled[0], expected)
    torch.testing.assert_close(sampled[1], features[:, 0, 3])


def positional_features(height: int, width: int) -> torch.Tensor:
    """A map whose cosine similarity peaks exactly at the queried cell: one-hot per cell."""
    return torch.eye(height * width).reshape(height * width, height, width)


@pytest.mark.parametrize("method", ["kernel", "argmax", "softargmax"])
def test_identity_pair_maps_cell_centres_back_to_themselves(method):
    """Source and target of different, non-square sizes; cell-centre queries land on the same cell."""
    source_image = image_from_array(random_rgb(90, 160))
    target_image = image_from_array(random_rgb(300, 210, seed=1))
    features = positional_features(12, 12)
    source = FeatureMap.build(features, 160, 90, size=96)
    target = FeatureMap.build(features, 210, 300, size=96)
    pair = PreparedPair(source_image, target_image, source, target)
    cells = np.array([[0.0, 0.0], [5.0, 7.0], [11.0, 11.0], [3.0, 0.0]])
    result = pair.match(source.frame.grid_to_pixels(cells), LocalisationSettings(method=method, temperature=0.001))
    np.testing.assert_allclose(result.grid_xy, cells, atol=1e-3)
    np.testing.assert_allclose(result.match_xy, target.frame.grid_to_pixels(cells), atol=1e-2)
    assert pair.score_maps(result.query_xy[:1]).shape == (1, 12, 12)
