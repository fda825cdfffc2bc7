"""DINOv2 patch features for the conditional prompt (CPM), computed on the fly.

The official code reads DINOv2 outputs from a per-dataset cache, so it cannot run on new images;
here they are computed per image (and cached by the prompt builder). Preprocessing reproduces
``AutoImageProcessor('facebook/dinov2-base')`` by hand (transformers' fast processors need
torchvision, which this project avoids): shortest side to 256 with PIL bicubic, centre crop
224, ImageNet mean and std.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import WeightsNotFoundError
from ..runtime import Runtime
from .weights import LocatedWeights, locate_weights, quiet_library_output

RESIZE_SHORTEST = 256
CROP = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(eq=False)
class DinoV2:
    """A loaded DINOv2 model.

    Attributes:
        model: transformers ``Dinov2Model``.
        weights: where it was found.
        runtime: device and precision.
    """

    model: Any
    weights: LocatedWeights
    runtime: Runtime

    @property
    def identity(self) -> str:
        return self.weights.identity

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_patches(self) -> int:
        return (CROP // int(self.model.config.patch_size)) ** 2

    @torch.no_grad()
    def patch_features(self, rgb: np.ndarray) -> torch.Tensor:
        """Patch tokens of one image.

        Args:
            rgb: ``H x W x 3`` uint8.

        Returns:
            ``N x C`` float32 on the runtime device (dinov2-base: 256 x 768), the final-layernorm
            ``last_hidden_state`` without the CLS token, patches in row-major order.
        """
        pixels = torch.from_numpy(preprocess(rgb))[None].to(self.runtime.device, self.runtime.weights_dtype)
        with self.runtime.autocast():
            tokens = self.model(pixel_values=pixels).last_hidden_state[0]
        return tokens[-self.num_patches :].float()


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """``H x W x 3`` uint8 -> ``3 x 224 x 224`` float32, as the DINOv2 image processor does."""
    height, width = rgb.shape[:2]
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = RESIZE_SHORTEST, int(RESIZE_SHORTEST * long / short)
    new_size = (new_short, new_long) if width <= height else (new_long, new_short)  # PIL: (width, height)
    resized = np.asarray(Image.fromarray(rgb).resize(new_size, Image.BICUBIC), dtype=np.float32)
    top = (resized.shape[0] - CROP) // 2
    left = (resized.shape[1] - CROP) // 2
    crop = resized[top : top + CROP, left : left + CROP] / 255.0
    return np.ascontiguousarray(((crop - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


def load_dinov2(source: str, runtime: Runtime) -> DinoV2:
    """Load DINOv2 from a local folder or the hub cache (never downloads)."""
    from transformers import Dinov2Model

    located = locate_weights(source, "dinov2")
    quiet_library_output()
    try:
        model = Dinov2Model.from_pretrained(located.folder, local_files_only=True, dtype=runtime.weights_dtype)
    except Exception as exc:  # transformers raises many types for one cause: unusable files.
        raise WeightsNotFoundError(f"could not load DINOv2 from '{located.folder}': {exc}") from exc
    model.to(runtime.device).eval().requires_grad_(False)
    return DinoV2(model=model, weights=located, runtime=runtime)
