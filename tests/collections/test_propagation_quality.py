"""The measurement's labelled data: warps and their ground truth agree to the pixel."""

from __future__ import annotations

import numpy as np

from engine.bench.propagation_quality import apply, homography, random_homography, warp


def test_homography_maps_the_four_points():
    corners = np.array([[0.0, 0.0], [99.0, 0.0], [99.0, 79.0], [0.0, 79.0]])
    moved = corners + np.array([[3.0, -2.0], [1.0, 4.0], [-5.0, 2.0], [2.0, 1.0]])
    np.testing.assert_allclose(apply(homography(corners, moved), corners), moved, atol=1e-9)


def test_a_warped_dot_lands_where_its_ground_truth_says():
    rgb = np.zeros((80, 100, 3), dtype=np.uint8)
    rgb[30, 40] = 255  # a dot at pixel centre (40, 30)
    matrix = random_homography(100, 80, np.random.default_rng(3))
    warped = warp(rgb, matrix).astype(np.float64)[..., 0]
    ys, xs = np.mgrid[0:80, 0:100]
    centre = np.array([(xs * warped).sum(), (ys * warped).sum()]) / warped.sum()
    np.testing.assert_allclose(centre, apply(matrix, np.array([[40.0, 30.0]]))[0], atol=0.35)
