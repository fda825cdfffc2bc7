"""Dense SIFT: the weights-free backend (the SIFT Flow lineage of semantic matching).

Upright SIFT descriptors are computed with OpenCV at every cell of the same align-corners grid the
SD features use (S/16 cells a side: 48 x 48 at S = 768), and mapped through the Hellinger kernel
(RootSIFT) so that cosine similarity compares them well. It needs no download, so the app and the
command line always work.

OpenCV describes every keypoint from the base image with a window proportional to the keypoint
size, so the cost grows with the square of the size (2.5 s per 768 px image at size 64). The
descriptors are therefore computed on the squashed image at half resolution (S/2, still aligned
corner to corner with the grid) with 16 px keypoints, equivalent to 32 px (two cells) at S: about
0.17 s per image on two cores.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..images import LoadedImage
from ..settings import FeatureSettings
from .feature_map import squash

GRID_STRIDE = 16  # pixels of the S x S input per cell, as SD's layer 1
WORK_SCALE = 0.5  # descriptors are computed on the squashed image at S * WORK_SCALE
KEYPOINT_SIZE = 16.0  # OpenCV keypoint diameter at the working scale


class DenseSiftFeatures:
    """Dense RootSIFT descriptors on the feature grid."""

    name = "sift"

    @property
    def identity(self) -> str:
        return f"sift:opencv-{cv2.__version__}:stride{GRID_STRIDE}:scale{WORK_SCALE:g}:size{KEYPOINT_SIZE:g}"

    def extract(self, image: LoadedImage, settings: FeatureSettings) -> torch.Tensor:
        """``128 x h x w`` float32 CPU tensor, ``h = w = S / 16``."""
        cells = settings.size // GRID_STRIDE
        side = round(settings.size * WORK_SCALE)
        gray = cv2.cvtColor(squash(image.rgb, side), cv2.COLOR_RGB2GRAY)
        positions = np.arange(cells) * ((side - 1) / (cells - 1))  # align-corners cell centres
        keypoints = [cv2.KeyPoint(float(x), float(y), KEYPOINT_SIZE, 0.0) for y in positions for x in positions]
        _, descriptors = cv2.SIFT_create().compute(gray, keypoints)
        if descriptors is None or len(descriptors) != cells * cells:
            raise RuntimeError("OpenCV dropped dense SIFT keypoints; the grid cannot be filled")
        root = np.sqrt(descriptors / np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-6))
        return torch.from_numpy(np.ascontiguousarray(root.T.reshape(128, cells, cells), dtype=np.float32))
