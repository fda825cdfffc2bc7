"""The feature map of one image, and the squash-resize every backend starts from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
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
