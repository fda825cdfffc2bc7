"""Heatmaps: the low-resolution score map is stretched so that each cell lands on its own pixels."""

from __future__ import annotations

import numpy as np

from engine.frames import GridFrame
from engine.heatmap import colourise, min_max, overlay, stretch_to_image


def test_cell_centres_keep_their_values_on_a_non_square_image():
    frame = GridFrame(image_width=97, image_height=61, size=64, grid_width=9, grid_height=5)
    scores = np.random.default_rng(0).uniform(-1, 1, (5, 9)).astype(np.float32)
    stretched = stretch_to_image(scores, frame)
    assert stretched.shape == (61, 97)
    # Where a cell centre falls exactly on a pixel centre, the stretched map equals the cell value.
    for gy in range(5):
        for gx in range(9):
            x, y = frame.grid_to_pixels(np.array([[gx, gy]], dtype=float))[0]
            if abs(x - round(x)) < 1e-6 and abs(y - round(y)) < 1e-6:
                assert np.isclose(stretched[round(y), round(x)], scores[gy, gx], atol=1e-5)
    # Between cells the map interpolates, so it never leaves the range of the cells.
    assert scores.min() - 1e-6 <= stretched.min() and stretched.max() <= scores.max() + 1e-6


def test_interpolation_is_linear_between_two_cells():
    frame = GridFrame(image_width=11, image_height=1, size=11, grid_width=2, grid_height=1)
    stretched = stretch_to_image(np.array([[0.0, 1.0]], dtype=np.float32), frame)
    np.testing.assert_allclose(stretched[0], np.linspace(0, 1, 11), atol=1e-5)


def test_overlay_blends_the_colour_map():
    frame = GridFrame(image_width=8, image_height=6, size=64, grid_width=4, grid_height=4)
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    blended = overlay(rgb, np.arange(16, dtype=np.float32).reshape(4, 4), frame, opacity=1.0)
    np.testing.assert_array_equal(blended[0, 0], colourise(np.zeros((1, 1)))[0, 0])  # the minimum
    np.testing.assert_array_equal(blended[-1, -1], colourise(np.ones((1, 1)))[0, 0])  # the maximum
    assert min_max(np.full((2, 2), 3.0)).sum() == 0
