"""Coordinate frames: pixels <-> square <-> grid, on non-square images, against docs/algorithm.md#coordinate-frames."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import PointError
from engine.frames import GridFrame, validate_points


@pytest.fixture
def frame() -> GridFrame:
    return GridFrame(image_width=500, image_height=333, size=768, grid_width=48, grid_height=48)


def test_forward_mapping_matches_the_documented_formulas(frame):
    x, y = 123.25, 300.5
    xs, ys = x * 768 / 500, y * 768 / 333
    expected = np.array([[xs * 47 / 767, ys * 47 / 767]])
    np.testing.assert_allclose(frame.pixels_to_grid(np.array([[x, y]])), expected)


def test_round_trip_on_a_non_square_image(frame):
    points = np.random.default_rng(0).uniform([-0.5, -0.5], [499.5, 332.5], size=(100, 2))
    np.testing.assert_allclose(frame.grid_to_pixels(frame.pixels_to_grid(points)), points, atol=1e-9)
    np.testing.assert_allclose(frame.square_to_pixels(frame.pixels_to_square(points)), points, atol=1e-9)


def test_grid_corners_land_on_square_corners(frame):
    corners = np.array([[0.0, 0.0], [47.0, 47.0]])
    np.testing.assert_allclose(frame.grid_to_square(corners), [[0.0, 0.0], [767.0, 767.0]])


@pytest.mark.parametrize("point", [[-0.6, 10], [10, 333], [float("nan"), 3], [5, float("inf")]])
def test_bad_points_are_rejected_with_their_index(point):
    with pytest.raises(PointError, match="point 1"):
        validate_points(np.array([[1.0, 1.0], point]), 500, 333, "the source image")


def test_image_edges_are_valid():
    points = validate_points([[-0.5, -0.5], [499.5, 332.5]], 500, 333)
    assert points.shape == (2, 2)


def test_wrong_shape():
    with pytest.raises(PointError, match="N x 2"):
        validate_points(np.zeros((3, 3)), 10, 10)
