"""From feature maps to matched points: sampling, cosine scores, and the three localisers.

All functions are pure torch, batched over N query points, and work in **grid** coordinates
(align-corners: cell centres at the integers 0 .. w-1); :mod:`engine.frames` converts to pixels.
Kernel soft-argmax follows the SD4Match evaluator (from SFNet): Gaussian window of ``sigma``
cells around the argmax applied to the raw cosine scores, softmax at ``temperature``, expectation
over the integer grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import NumericError

EPS = 1e-6
CONFIDENCE_RADIUS = 1.5  # cells: probability mass this close to the prediction is its confidence


def l2_normalise(features: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Divide by the L2 norm along ``dim`` plus 1e-6 (as the official matcher does)."""
    return features / (features.norm(dim=dim, keepdim=True) + EPS)


def sample_features(features: torch.Tensor, grid_xy: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of a ``C x h x w`` map at ``N x 2`` grid points -> ``N x C``.

    Points are clamped to the grid (as the official code clamps keypoints to the image), which
    after normalisation equals zero padding at the border.
    """
    _, height, width = features.shape
    extent = torch.tensor([max(width - 1, 1), max(height - 1, 1)], dtype=features.dtype, device=features.device)
    limit = torch.tensor([width - 1, height - 1], dtype=features.dtype, device=features.device)
    grid_xy = grid_xy.to(features).clamp(min=torch.zeros_like(limit), max=limit)
    normalised = grid_xy / extent * 2 - 1  # [-1, 1] with align_corners=True
    sampled = F.grid_sample(features[None], normalised[None, None], mode="bilinear", align_corners=True)
    return sampled[0, :, 0, :].T


def cosine_scores(queries: torch.Tensor, target_normalised: torch.Tensor) -> torch.Tensor:
    """``N x C`` raw queries against a normalised ``C x h x w`` map -> ``N x h x w`` cosines."""
    channels, height, width = target_normalised.shape
    scores = l2_normalise(queries, dim=1) @ target_normalised.reshape(channels, -1)
    return scores.reshape(-1, height, width)


def _grid_coordinates(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return xs, ys


def argmax_cells(scores: torch.Tensor) -> torch.Tensor:
    """``N x h x w`` -> ``N x 2`` (x, y) of the best cell (first one on ties)."""
    width = scores.shape[-1]
    flat = scores.flatten(1).argmax(dim=1)
    return torch.stack([flat % width, flat // width], dim=1).float()


def _expectation(probabilities: torch.Tensor) -> torch.Tensor:
    xs, ys = _grid_coordinates(*probabilities.shape[-2:], probabilities.device)
    return torch.stack([(probabilities * xs).sum((1, 2)), (probabilities * ys).sum((1, 2))], dim=1)


def softmax_map(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax over all cells of each ``h x w`` map at ``temperature``."""
    return torch.softmax(scores.flatten(1) / temperature, dim=1).reshape(scores.shape)


def kernel_weights(peaks: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """``exp(-d^2 / (2 sigma^2))`` around each ``N x 2`` peak cell -> ``N x h x w``."""
    xs, ys = _grid_coordinates(height, width, peaks.device)
    squared = (xs[None] - peaks[:, 0, None, None]) ** 2 + (ys[None] - peaks[:, 1, None, None]) ** 2
    return torch.exp(-squared / (2 * sigma**2))


def localise(scores: torch.Tensor, method: str, sigma: float, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Predict one grid point per score map.

    Args:
        scores: ``N x h x w`` cosine scores.
        method: "kernel", "argmax" or "softargmax".

    Returns:
        ``(points, probabilities)``: ``N x 2`` grid (x, y) and the ``N x h x w`` distribution the
        prediction is the mean of (one-hot for argmax).

    Raises:
        NumericError: a score is NaN or infinite (the features are), so no prediction is made.
    """
    scores = scores.float()
    if not bool(torch.isfinite(scores).all()):
        raise NumericError(
            "the similarity scores hold NaN or infinite values: the feature maps are not finite "
            "(a broken prompt or weights file, or float16 overflow; try --dtype float32)"
        )
    peaks = argmax_cells(scores)
    if method == "argmax":
        flat = scores.flatten(1)
        one_hot = F.one_hot(flat.argmax(dim=1), flat.shape[1]).float().reshape(scores.shape)
        return peaks, one_hot
    if method == "kernel":
        scores = scores * kernel_weights(peaks, *scores.shape[-2:], sigma)
    elif method != "softargmax":
        raise ValueError(f"unknown localisation method '{method}'")
    probabilities = softmax_map(scores, temperature)
    return _expectation(probabilities), probabilities


def confidence(scores: torch.Tensor, points: torch.Tensor, temperature: float) -> torch.Tensor:
    """How sure a match is, in [0, 1]: the share of the plain softmax (at ``temperature``) that
    lies within 1.5 cells of the prediction.

    Near 1 when one compact region wins; low when the mass spreads over rivals (symmetric parts,
    repeated texture, an occluded point). Unlike the peak probability it does not fall just
    because a correct match spans a few neighbouring cells.
    """
    probabilities = softmax_map(scores.float(), temperature)
    xs, ys = _grid_coordinates(*scores.shape[-2:], scores.device)
    squared = (xs[None] - points[:, 0, None, None]) ** 2 + (ys[None] - points[:, 1, None, None]) ** 2
    return (probabilities * (squared <= CONFIDENCE_RADIUS**2)).sum((1, 2))
