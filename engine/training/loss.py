"""The SD4Match training loss: Gaussian-smoothed cross-entropy of a correlation softmax.

Per pair (``src/loss.py: GaussianCrossEntropyLoss`` of the official code; docs/algorithm.md#training),
all in **grid** coordinates (align-corners, cell centres at 0 .. w-1):

1. sample the source features bilinearly at the ground-truth source points, L2-normalise them and
   the target map, and take cosine scores against every target cell: ``N x h x w``;
2. softmax over all cells at temperature 0.04: ``p``;
3. around each ground-truth target point (continuous, not rounded), read ``p`` bilinearly with
   border padding at the 7 x 7 integer offsets -3..3;
4. weight ``log p`` there by ``1 / (2 pi sigma^2) * exp(-(dx^2 + dy^2) / (2 sigma^2))``, sigma 1.5
   (not renormalised: the peak is 0.0707 and the 49 weights sum to about 0.965), drop offsets whose
   x is not strictly inside (0, w - 1) or whose y is not strictly inside (0, h - 1), and
   ``loss = -sum(weight * log p) / N``; no epsilon inside the log, as in the official code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..localisation import cosine_scores, l2_normalise, sample_features, softmax_map


def window_offsets(kernel_size: int, device: torch.device | None = None) -> torch.Tensor:
    """``k x k x 2`` integer (dx, dy) offsets -k//2 .. k//2; row index is dy, column index dx."""
    half = kernel_size // 2
    steps = torch.arange(-half, half + 1, dtype=torch.float32, device=device)
    dy, dx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([dx, dy], dim=-1)


def gaussian_window(kernel_size: int, sigma: float, device: torch.device | None = None) -> torch.Tensor:
    """``k x k`` weights ``exp(-(dx^2 + dy^2) / (2 sigma^2)) / (2 pi sigma^2)`` at :func:`window_offsets`."""
    squared = window_offsets(kernel_size, device).square().sum(dim=-1)
    return torch.exp(-squared / (2 * sigma**2)) / (2 * math.pi * sigma**2)


def correlation_probabilities(
    source_features: torch.Tensor,
    target_features: torch.Tensor,
    source_grid_xy: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Softmax over target cells of the cosine scores of each source point.

    Args:
        source_features: ``C x h_s x w_s`` float32 (not normalised).
        target_features: ``C x h x w`` float32 (not normalised).
        source_grid_xy: ``N x 2`` source points on the source grid.
        temperature: softmax temperature.

    Returns:
        ``N x h x w``, each map summing to 1.
    """
    queries = sample_features(source_features, source_grid_xy)
    return softmax_map(cosine_scores(queries, l2_normalise(target_features, dim=0)), temperature)


def gaussian_cross_entropy(
    probabilities: torch.Tensor, target_grid_xy: torch.Tensor, kernel_size: int = 7, sigma: float = 1.5
) -> torch.Tensor:
    """Cross-entropy of ``N x h x w`` probability maps against Gaussian windows at ``N x 2`` grid points.

    Returns:
        A scalar: the weighted negative log-likelihood summed over points and window cells,
        divided by N.
    """
    count, height, width = probabilities.shape
    offsets = window_offsets(kernel_size, probabilities.device)
    positions = target_grid_xy.to(probabilities)[:, None, None, :] + offsets  # N x k x k x 2
    x, y = positions[..., 0], positions[..., 1]
    inside = (x > 0) & (x < width - 1) & (y > 0) & (y < height - 1)
    extent = torch.tensor([max(width - 1, 1), max(height - 1, 1)], dtype=positions.dtype, device=positions.device)
    sampled = F.grid_sample(
        probabilities[:, None], positions / extent * 2 - 1, mode="bilinear", padding_mode="border", align_corners=True
    )[:, 0]  # N x k x k
    weights = gaussian_window(kernel_size, sigma, probabilities.device)
    return -(weights * torch.log(sampled) * inside).sum() / count


def pair_loss(
    source_features: torch.Tensor,
    target_features: torch.Tensor,
    source_grid_xy: torch.Tensor,
    target_grid_xy: torch.Tensor,
    temperature: float = 0.04,
    kernel_size: int = 7,
    sigma: float = 1.5,
) -> torch.Tensor:
    """The loss of one pair: :func:`correlation_probabilities` then :func:`gaussian_cross_entropy`."""
    probabilities = correlation_probabilities(source_features, target_features, source_grid_xy, temperature)
    return gaussian_cross_entropy(probabilities, target_grid_xy, kernel_size, sigma)
