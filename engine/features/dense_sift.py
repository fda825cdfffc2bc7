"""Dense SIFT: the weights-free backend (the SIFT Flow lineage of semantic matching).

Upright SIFT descriptors are computed with OpenCV at every cell of the same align-corners grid the
SD features use (S/16 cells a side: 48 x 48 at S = 768), on the same squashed image, and mapped
through the Hellinger kernel (RootSIFT) so that cosine similarity compares them well. It needs no
download and runs in well under a second, so the app and the command line always work.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..images import LoadedImage
from ..settings import FeatureSettings
from .feature_map import squash

GRID_STRIDE = 16  # pixels of the S x S input per cell, as SD's layer 1
PATCH_SCALE = 4.0  # descriptor support, in strides (SIFT's 4 x 4 bins then span 4 cells)


class DenseSiftFeatures:
    """Dense RootSIFT descriptors on the feature grid."""

    name = "sift"

    @property
    def identity(self) -> str:
        return f"sift:opencv-{cv2.__version__}:stride{GRID_STRIDE}:patch{PATCH_SCALE:g}"

    def extract(self, image: LoadedImage, settings: FeatureSettings) -> torch.Tensor:
        """``128 x h x w`` float32 CPU tensor, ``h = w = S / 16``."""
        size = settings.size
        cells = size // GRID_STRIDE
        gray = cv2.cvtColor(squash(image.rgb, size), cv2.COLOR_RGB2GRAY)
        positions = np.arange(cells) * ((size - 1) / (cells - 1))  # align-corners cell centres
        diameter = float(PATCH_SCALE * GRID_STRIDE)
        keypoints = [cv2.KeyPoint(float(x), float(y), diameter, 0.0) for y in positions for x in positions]
        _, descriptors = cv2.SIFT_create().compute(gray, keypoints)
        if descriptors is None or len(descriptors) != cells * cells:
            raise RuntimeError("OpenCV dropped dense SIFT keypoints; the grid cannot be filled")
        root = np.sqrt(descriptors / np.maximum(descriptors.sum(axis=1, keepdims=True), 1e-6))
        return torch.from_numpy(np.ascontiguousarray(root.T.reshape(128, cells, cells), dtype=np.float32))
