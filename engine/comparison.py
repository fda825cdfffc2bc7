"""Comparing variants on the same points: how far apart their predictions land."""

from __future__ import annotations

import numpy as np


def prediction_spread(predictions: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest distance between any two variants' predictions of each point.

    Args:
        predictions: ``V x N x 2`` target pixels, V variants by N points.
        width, height: target image size; the fraction is relative to ``max(width, height)``.

    Returns:
        ``(pixels, fraction)``, each of length N (zeros when there are fewer than two variants).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.shape[0] < 2:
        zeros = np.zeros(predictions.shape[1])
        return zeros, zeros
    differences = predictions[:, None, :, :] - predictions[None, :, :, :]  # V x V x N x 2
    pixels = np.linalg.norm(differences, axis=-1).max(axis=(0, 1))
    return pixels, pixels / max(width, height)
