"""Per-pair PCK equals the official SD4Match evaluator's in both frames, with keypoints on and past
the image border, on miniature SPair-71k, PF-Pascal and PF-Willow folders in their released layouts.

``official_pck`` transcribes what the official code does to one pair: its dataset readers scale
the keypoints and the threshold into the frame the images are scored in (768 x 768 after its
resize, or the original size with its ``test_ori`` split), take the threshold, then clamp the
target keypoints with ``regularise_coordinates(eps=1e-4)``; ``PCKEvaluator.calculate_pck`` counts
``||gt - pred|| <= alpha * thres``.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.datasets import open_dataset
from engine.evaluation import ALPHAS, regularise_coordinates, score_pair
from engine.frames import GridFrame
from tests.datasets.miniature import literal_pair, write_pfpascal, write_pfwillow, write_spair

SIZE = 768
TARGET_SIZE = (200, 140)  # (W, H)
# Ten target points (PF-Willow has exactly ten): on the border (x = 0, x = W - 1, y = H - 1),
# past it by up to half a pixel (y = 139.26 in a 140-pixel-high image),
# and inside (four decimals, as the PF-Willow csv holds them).
TARGET_POINTS = [
    [0.0, 20.0],
    [-0.3, 50.0],
    [199.0, 70.0],
    [199.4, 139.26],
    [100.0, 139.0],
    [120.0, 0.0],
    [60.0, -0.49],
    [199.4999, 80.0],
    [30.0, 139.49],
    [150.0, 90.5],
]
SOURCE_POINTS = [[4.0 + 4 * k, 3.0 + 2 * k] for k in range(10)]
TARGET_BOX = (0.0, 0.0, 199.0, 139.5)
WRITERS = {"spair": write_spair, "pfpascal": write_pfpascal, "pfwillow": write_pfwillow}
OFFICIAL_RULE = {"spair": "bbox", "pfpascal": "img", "pfwillow": "kps"}


def official_frame(gt, bbox, rule, width, height, out_width, out_height):
    """Scale factors, the threshold, and the raw and clamped target points in the scoring frame."""
    scale = np.array([out_width / width, out_height / height])
    raw = np.array(gt, dtype=np.float64) * scale
    if rule == "bbox":  # CorrespondenceDataset.get_pckthres
        thres = max((bbox[2] - bbox[0]) * scale[0], (bbox[3] - bbox[1]) * scale[1])
    elif rule == "img":
        thres = max(out_width, out_height)
    else:  # PFWillowDataset.get_pckthres('bbox'): the larger extent of the target keypoints
        thres = (raw.max(axis=0) - raw.min(axis=0)).max()
    clamped = raw.copy()  # regularise_coordinates(trg_kps, h2, w2, eps=1e-4), after the threshold
    for axis, length in enumerate((out_width, out_height)):
        clamped[clamped[:, axis] <= 0, axis] = 1e-4
        clamped[clamped[:, axis] >= length - 1, axis] = length - 1 - 1e-4
    return scale, thres, raw, clamped


def official_pck(pred, gt, bbox, rule, width, height, out_width, out_height, clamp=True):
    """The official per-pair PCK at ALPHAS (``PCKEvaluator.calculate_pck``, by image)."""
    scale, thres, raw, clamped = official_frame(gt, bbox, rule, width, height, out_width, out_height)
    diff = np.linalg.norm((clamped if clamp else raw) - np.array(pred) * scale, axis=1)
    return np.array([(diff <= alpha * thres).mean() for alpha in ALPHAS])


def straddling_predictions(rule, out_size, alpha):
    """Predictions (original pixels) within ``alpha * thres`` of the clamped target points in the
    frame ``out_size`` but beyond it from the unclamped ones, wherever the clamp moved a point."""
    scale, thres, raw, clamped = official_frame(TARGET_POINTS, TARGET_BOX, rule, *TARGET_SIZE, *out_size)
    shift = np.linalg.norm(clamped - raw, axis=1, keepdims=True)
    inward = np.divide(clamped - raw, shift, out=np.zeros_like(raw), where=shift > 0)
    return (clamped + inward * (alpha * thres - shift / 2)) / scale


@pytest.fixture(scope="module", params=sorted(WRITERS))
def dataset(request, tmp_path_factory):
    pairs = [
        literal_pair(
            "cat",
            (f"src{index}", f"trg{index}"),
            SOURCE_POINTS,
            TARGET_POINTS,
            bboxes=((1.0, 1.0, 60.0, 40.0), TARGET_BOX),
            sizes=((64, 48), TARGET_SIZE),
        )
        for index in range(8)
    ]
    root = tmp_path_factory.mktemp(request.param)
    WRITERS[request.param](root, pairs)
    return request.param, open_dataset(request.param, root)


def test_regularise_coordinates_is_the_official_rule():
    points = np.array([[0.0, -3.0], [5e-5, 9.0], [9.0, 9.5], [4.0, 3.0]])
    np.testing.assert_array_equal(
        regularise_coordinates(points, 10, 10), [[1e-4, 1e-4], [5e-5, 9 - 1e-4], [9 - 1e-4, 9 - 1e-4], [4.0, 3.0]]
    )


def test_per_pair_pck_equals_the_official_evaluator_in_both_frames(dataset):
    kind, samples = dataset
    width, height = TARGET_SIZE
    frame = GridFrame(width, height, SIZE, SIZE // 16, SIZE // 16)
    frames = {"square": (SIZE, SIZE), "pixels": TARGET_SIZE}
    clamp_mattered = {"square": 0, "pixels": 0}
    for index, sample in enumerate(samples):
        assert Image.open(sample.target_path).size == TARGET_SIZE
        np.testing.assert_array_equal(sample.target_points, TARGET_POINTS)  # read back as written, unclamped
        # Each pair's predictions straddle one alpha's limit in one frame.
        designed_for = frames[list(frames)[index % 2]]
        predicted = straddling_predictions(OFFICIAL_RULE[kind], designed_for, ALPHAS[index % 3])
        score = score_pair(sample, predicted, frame)
        for name, (out_width, out_height) in frames.items():
            geometry = (OFFICIAL_RULE[kind], width, height, out_width, out_height)
            official = [official_pck(predicted, TARGET_POINTS, TARGET_BOX, *geometry, clamp) for clamp in (True, False)]
            np.testing.assert_array_equal(score.measurements[name].pck(), official[0], err_msg=f"{kind} {name}")
            clamp_mattered[name] += not np.array_equal(official[0], official[1])
    # The points are placed so that the clamp changes the official numbers in both frames.
    assert clamp_mattered["square"] > 0 and clamp_mattered["pixels"] > 0, clamp_mattered
