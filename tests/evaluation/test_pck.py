"""PCK against hand computation: thresholds, both frames, per-pair and per-point means."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation import (
    Measurement,
    PairScore,
    correct_points,
    measure,
    pck,
    point_errors,
    reference_length,
    summarise,
)
from engine.frames import GridFrame


def test_pck_by_hand_with_points_exactly_at_the_threshold():
    ground_truth = np.zeros((5, 2))
    # Errors 0, 5 (3-4-5), 10, just over 10, 20; theta 100 -> limits 5, 10, 15.
    predicted = np.array([[0, 0], [3, 4], [0, 10], [10.0001, 0], [12, 16]])
    np.testing.assert_allclose(point_errors(predicted, ground_truth), [0, 5, 10, 10.0001, 20])
    np.testing.assert_allclose(pck(predicted, ground_truth, 100.0), [2 / 5, 3 / 5, 4 / 5])


def test_threshold_products_that_round_down_still_count():
    # 0.15 * 12 is 1.7999999999999998 in floating point; an error of exactly 1.8 must count.
    assert 0.15 * 12 < 1.8
    assert correct_points(np.array([1.8]), 12.0).tolist() == [[False], [False], [True]]
    assert correct_points(np.array([1.8 * (1 + 1e-6)]), 12.0)[:, 0].tolist() == [False, False, False]


def test_reference_lengths():
    points = np.array([[10, 5], [40, 25], [20, 65]])
    assert reference_length("bbox", points, (10, 20, 50, 100), 500, 300) == 80
    assert reference_length("bbox", points, (10, 20, 150, 100), 500, 300) == 140
    assert reference_length("image", points, None, 500, 300) == 500
    assert reference_length("points", points, None, 500, 300) == 60  # y extent 60 > x extent 30
    with pytest.raises(ValueError, match="needs a target box"):
        reference_length("bbox", points, None, 500, 300)


def test_measure_converts_to_the_squashed_frame():
    frame = GridFrame(image_width=200, image_height=100, size=256, grid_width=16, grid_height=16)
    ground_truth = np.array([[100.0, 50.0], [20.0, 10.0]])
    predicted = np.array([[110.0, 50.0], [20.0, 13.0]])
    by_frame = measure(predicted, ground_truth, "bbox", (0, 0, 100, 80), frame)
    np.testing.assert_allclose(by_frame["pixels"].errors, [10, 3])
    # x scales by 256 / 200 = 1.28, y by 256 / 100 = 2.56.
    np.testing.assert_allclose(by_frame["square"].errors, [12.8, 7.68])
    assert by_frame["pixels"].theta == 100
    assert by_frame["square"].theta == pytest.approx(204.8)  # box height 80 * 2.56 beats width 100 * 1.28
    np.testing.assert_allclose(
        by_frame["square"].errors,
        np.linalg.norm(frame.pixels_to_square(predicted) - frame.pixels_to_square(ground_truth), axis=1),
    )
    image = measure(predicted, ground_truth, "image", None, frame)
    assert image["pixels"].theta == 200 and image["square"].theta == 256
    points = measure(predicted, ground_truth, "points", None, frame)
    assert points["pixels"].theta == 80 and points["square"].theta == pytest.approx(102.4)


def score(pair_id: str, category: str, errors: list[float], theta: float = 10.0) -> PairScore:
    measurement = Measurement(np.array(errors), theta)
    return PairScore(pair_id, category, np.zeros((len(errors), 2)), {"square": measurement, "pixels": measurement})


def test_summary_means_over_pairs_and_over_points():
    scores = [
        score("a", "dog", [0.0]),  # PCK@0.1 1
        score("b", "dog", [0.5, 1.5, 3.0]),  # 1/3 (2/3 at 0.15)
        score("c", "cat", [0.0, 9.0]),  # 1/2
    ]
    summary = summarise(scores)
    assert list(summary["square"]) == ["cat", "dog", "all"]
    dog, overall = summary["pixels"]["dog"], summary["pixels"]["all"]
    assert (dog.pairs, dog.points, overall.pairs, overall.points) == (2, 4, 3, 6)
    assert dog.per_pair[1] == pytest.approx((1 + 1 / 3) / 2)
    assert dog.per_point[1] == pytest.approx(2 / 4)
    assert overall.per_pair[1] == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert overall.per_point[1] == pytest.approx(3 / 6)
    assert overall.per_point[2] == pytest.approx(4 / 6)  # 1.5 passes at 0.15, not at 0.1


def test_pair_scores_survive_json_exactly():
    original = PairScore(
        "p",
        "cat",
        np.array([[1 / 3, 2 / 7]]),
        {"square": Measurement(np.array([0.1 + 0.2]), 1 / 3), "pixels": Measurement(np.array([np.pi]), 7.0)},
    )
    restored = PairScore.from_dict(original.to_dict())
    np.testing.assert_array_equal(restored.predicted, original.predicted)
    for frame in ("square", "pixels"):
        assert restored.measurements[frame].theta == original.measurements[frame].theta
        np.testing.assert_array_equal(restored.measurements[frame].errors, original.measurements[frame].errors)
