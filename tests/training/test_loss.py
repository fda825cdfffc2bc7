"""The training loss against hand computations (docs/algorithm.md#training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.training.loss import correlation_probabilities, gaussian_cross_entropy, gaussian_window, pair_loss


def test_gaussian_window_is_the_official_unnormalised_kernel() -> None:
    window = gaussian_window(7, 1.5)
    assert window.shape == (7, 7)
    assert window[3, 3].item() == pytest.approx(1 / (2 * math.pi * 1.5**2))  # 0.0707
    assert window.sum().item() == pytest.approx(0.9654, abs=1e-4)  # not renormalised to 1
    # Row index is dy, column index dx: offset (dx, dy) = (1, -2).
    assert window[1, 4].item() == pytest.approx(math.exp(-5 / (2 * 1.5**2)) / (2 * math.pi * 1.5**2))


def hand_loss(probabilities: np.ndarray, targets: np.ndarray, size: int = 7, sigma: float = 1.5) -> float:
    """The official loss written out with loops: bilinear reads, strict interior mask, sum / N."""
    count, height, width = probabilities.shape
    half = size // 2
    total = 0.0
    for index, (tx, ty) in enumerate(targets):
        for dy in range(-half, half + 1):
            for dx in range(-half, half + 1):
                x, y = tx + dx, ty + dy
                if not (0 < x < width - 1 and 0 < y < height - 1):
                    continue
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                fx, fy = x - x0, y - y0
                p = probabilities[index]
                value = (
                    p[y0, x0] * (1 - fx) * (1 - fy)
                    + p[y0, x0 + 1] * fx * (1 - fy)
                    + p[y0 + 1, x0] * (1 - fx) * fy
                    + p[y0 + 1, x0 + 1] * fx * fy
                )
                weight = math.exp(-(dx * dx + dy * dy) / (2 * sigma**2)) / (2 * math.pi * sigma**2)
                total -= weight * math.log(value)
    return total / count


def test_gaussian_cross_entropy_matches_hand_computation() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 9, 11))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=(1, 2), keepdims=True)
    # Inside, near the left border (offsets masked), and in a corner.
    targets = np.array([[4.3, 5.6], [0.7, 2.25], [10.0, 0.0]])
    loss = gaussian_cross_entropy(torch.from_numpy(probabilities).float(), torch.from_numpy(targets).float())
    assert loss.item() == pytest.approx(hand_loss(probabilities, targets), rel=1e-5)


def test_loss_is_finite_with_a_target_on_the_corner() -> None:
    """Masked offsets read the border (not zeros), so 0 * log(0) never turns the loss into NaN."""
    features = torch.randn(8, 6, 6, requires_grad=True)
    loss = pair_loss(features, features, torch.tensor([[2.0, 3.0]]), torch.tensor([[5.0, 5.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(features.grad).all()


def test_correlation_softmax_peaks_where_the_features_agree() -> None:
    target = torch.zeros(16, 4, 5)
    for cell in range(16):  # one-hot features: every cell is orthogonal to the others
        target[cell, cell // 5, cell % 5] = 1.0
    probabilities = correlation_probabilities(target, target, torch.tensor([[2.0, 1.0], [2.0, 3.0]]), 0.04)
    assert probabilities.shape == (2, 4, 5)
    assert torch.allclose(probabilities.sum(dim=(1, 2)), torch.ones(2))
    assert probabilities[0].argmax().item() == 1 * 5 + 2
    # A query on a cell without features (index 17) agrees with nothing: the softmax is flat.
    assert torch.allclose(probabilities[1], torch.full((4, 5), 1 / 20))
