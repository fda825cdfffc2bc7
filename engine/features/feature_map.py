"""The feature map of one image, the squash-resize every backend starts from, and the dual-layer merge."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..frames import GridFrame
from ..localisation import l2_normalise


@dataclass(frozen=True, eq=False)
class FeatureMap:
    """Features of one image on its grid.

    Attributes:
        features: ``C x h x w`` float32 (not normalised; matching L2-normalises), on the model device.
        frame: the image/square/grid geometry for coordinate conversions.
    """

    features: torch.Tensor
    frame: GridFrame

    @cached_property
    def normalised(self) -> torch.Tensor:
        """``C x h x w`` L2-normalised along C; computed once per map, also when the map is cached."""
        return l2_normalise(self.features, dim=0)

    @property
    def nbytes(self) -> int:
        """Memory budgeted for this map in caches: the features and room for their normalised copy."""
        return 2 * self.features.numel() * self.features.element_size()

    @classmethod
    def build(cls, features: torch.Tensor, image_width: int, image_height: int, size: int) -> FeatureMap:
        grid_height, grid_width = features.shape[-2:]
        return cls(features, GridFrame(image_width, image_height, size, int(grid_width), int(grid_height)))


def squash(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize ``H x W x 3`` uint8 to ``size x size x 3`` uint8 ignoring aspect (PIL bilinear).

    Aspect is not preserved on purpose: the paper's features and PCK numbers use this squash.
    """
    if rgb.shape[:2] == (size, size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))


def combine_dual_layer(first: torch.Tensor, second: torch.Tensor, weights: tuple[float, float]) -> torch.Tensor:
    """Dual-layer feature: both maps on the finer grid, each L2-normalised along C, weighted, concatenated.

    Args:
        first, second: ``C1 x h1 x w1`` and ``C2 x h2 x w2``.
        weights: (w1, w2); the report's 0.8 : 0.6 keeps the concatenation unit-norm.

    Returns:
        ``(C1 + C2) x h x w`` with ``h x w`` the larger of the two grids. Upsampling is bicubic with
        aligned corners, so cell i of the coarse grid stays where the align-corners grid frame puts it.
    """
    (h1, w1), (h2, w2) = first.shape[-2:], second.shape[-2:]
    size = (h1, w1) if h1 * w1 >= h2 * w2 else (h2, w2)
    maps = []
    for feature, weight in zip((first, second), weights, strict=True):
        if tuple(feature.shape[-2:]) != size:
            feature = F.interpolate(feature[None], size=size, mode="bicubic", align_corners=True)[0]
        maps.append(weight * F.normalize(feature, dim=0, eps=1e-6))
    return torch.cat(maps, dim=0)
