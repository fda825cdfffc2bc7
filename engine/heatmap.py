"""Correlation heatmaps for display: stretch a low-resolution score map onto its image.

The score map stays ``h x w`` (48 x 48 for SD2-1); only this small map is resampled, never the
1280-channel features. Resampling respects the align-corners grid: cell (i, j) lands exactly on
the pixel ``GridFrame.grid_to_pixels`` gives for it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .frames import GridFrame


def stretch_to_image(score_map: np.ndarray, frame: GridFrame) -> np.ndarray:
    """``h x w`` scores -> ``H x W`` float32 over the original image (bilinear, edges clamped)."""
    map_x, map_y = _sampling_maps(frame)
    return cv2.remap(score_map.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=8)
def _sampling_maps(frame: GridFrame) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates of every pixel centre, ``H x W`` each: the same for every click on one image."""
    xs = frame.pixels_to_grid(np.stack([np.arange(frame.image_width), np.zeros(frame.image_width)], 1))[:, 0]
    ys = frame.pixels_to_grid(np.stack([np.zeros(frame.image_height), np.arange(frame.image_height)], 1))[:, 1]
    map_x = np.broadcast_to(xs[None, :], (frame.image_height, frame.image_width)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (frame.image_height, frame.image_width)).astype(np.float32)
    for shared in (map_x, map_y):
        shared.setflags(write=False)  # cached and handed to every caller
    return map_x, map_y


def min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (DIFT's display normalisation); a constant map becomes zeros."""
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def colourise(values01: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> ``... x 3`` uint8 RGB with the viridis colour map."""
    index = np.clip(values01 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(index, cv2.COLORMAP_VIRIDIS)[..., ::-1]


def overlay(rgb: np.ndarray, score_map: np.ndarray, frame: GridFrame, opacity: float = 0.45) -> np.ndarray:
    """Blend the min-max normalised, viridis-coloured score map over ``rgb`` (``H x W x 3`` uint8)."""
    colours = colourise(min_max(stretch_to_image(score_map, frame))).astype(np.float32)
    return (rgb.astype(np.float32) * (1 - opacity) + colours * opacity).round().astype(np.uint8)
