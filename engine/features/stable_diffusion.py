"""The Stable Diffusion feature backend: the loaded model, its posterior cache and its UNet batch size.

The steps themselves (squash, VAE posterior, seeded noise, truncated UNet, ensemble mean) read in
order in :mod:`engine.pipeline`; this class holds what they need and runs the two model calls
(:meth:`StableDiffusionFeatures.posterior`, :meth:`StableDiffusionFeatures.unet`). See
``docs/algorithm.md#features``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..cache import LRUCache, tensor_bytes
from ..disk_cache import DiskCache, key_fields
from ..errors import SettingsError
from ..images import LoadedImage
from ..models.stable_diffusion import StableDiffusionParts, encode_posterior
from ..models.unet_features import up_block_features
from ..models.weights import LocatedWeights, weights_fingerprint
from ..pipeline import image_features
from ..progress import SILENT, Progress
from ..runtime import Runtime
from ..settings import FeatureSettings
from .feature_map import squash


def backend_identity(weights: LocatedWeights, runtime: Runtime) -> str:
    """Names the backend in memory-cache keys: the weights and the runtime's label."""
    return f"sd:{weights.identity}:{runtime.label}"


def default_max_batch(runtime: Runtime) -> int:
    """Ensemble members per UNet call unless told: 8 on CUDA, where batching fills the device; 1
    elsewhere, where a member costs no less in a batch of two (docs/benchmarks.md, *Measured
    choices*), so every member's features arrive as soon as they exist and memory stays lowest."""
    return 8 if runtime.device.type == "cuda" else 1


def disk_key(weights: str, runtime: Runtime, max_batch: int) -> dict[str, Any]:
    """What the numbers depend on besides image, prompt and settings, for disk-cache keys: the
    exact weights (:func:`weights_fingerprint`), the runtime (device kind, dtypes, attention path),
    the UNet batch (it sets the summation order) and, on a CPU, the thread count (kernels split
    sums by thread)."""
    return {
        "weights": weights,
        "runtime": key_fields(runtime),
        "max_batch": max_batch,
        "cpu_threads": torch.get_num_threads() if runtime.device.type == "cpu" else None,
    }


class StableDiffusionFeatures:
    """Extracts UNet up-block features of one image under one conditioning.

    The VAE posterior of each image is cached (it depends on neither prompt, timestep nor seed),
    so switching prompt variant or timestep costs UNet passes only: in memory, and on disk when
    a :class:`DiskCache` is given (then also between runs).

    Args:
        parts: the loaded SD model.
        max_batch: most ensemble members per UNet call; bounds memory on small machines.
        latent_cache_bytes: budget for cached posteriors (SD2-1 at 768: 295 kB per image).
        disk: the persistent cache under the memory one, or None.
    """

    name = "sd"

    def __init__(
        self,
        parts: StableDiffusionParts,
        max_batch: int | None = None,
        latent_cache_bytes: int = 256 << 20,
        disk: DiskCache | None = None,
    ):
        self.parts = parts
        self.max_batch = max_batch or default_max_batch(parts.runtime)
        self.latents: LRUCache[tuple[torch.Tensor, torch.Tensor]] = LRUCache(
            latent_cache_bytes, lambda moments: tensor_bytes(*moments)
        )
        self.disk = disk
        self._weights = weights_fingerprint(parts.weights)

    def disk_key(self) -> dict[str, Any]:
        """:func:`disk_key` of this model."""
        return disk_key(self._weights, self.parts.runtime, self.max_batch)

    @property
    def identity(self) -> str:
        return backend_identity(self.parts.weights, self.parts.runtime)

    def check(self, settings: FeatureSettings) -> None:
        """Raise :class:`SettingsError` if the settings do not fit this model."""
        layers = [settings.layer] + ([settings.dual_layer.second_layer] if settings.dual_layer else [])
        for layer in layers:
            if layer >= self.parts.num_up_blocks:
                raise SettingsError(
                    f"layer {layer} does not exist: the UNet has {self.parts.num_up_blocks} up blocks "
                    f"(0-{self.parts.num_up_blocks - 1})"
                )
        steps = settings.timesteps + ((settings.dual_layer.second_timestep,) if settings.dual_layer else ())
        for t in steps:
            if t >= self.parts.num_train_timesteps:
                raise SettingsError(f"timestep {t} is beyond the scheduler's {self.parts.num_train_timesteps} steps")

    def extract(
        self, image: LoadedImage, states: torch.Tensor, settings: FeatureSettings, progress: Progress = SILENT
    ) -> torch.Tensor:
        """Feature map of ``image``: pipeline steps 1-5, :func:`engine.pipeline.image_features`.

        Args:
            image: the decoded image.
            states: ``1 x L x D`` conditioning.
            settings: timestep(s), layer(s), ensemble size, input size, seed.
            progress: receives stage names; may cancel between stages.

        Returns:
            ``C x h x w`` float32 on the model device (SD2-1, layer 1, S = 768: 1280 x 48 x 48).
        """
        return image_features(self, image, states, settings, progress)

    def posterior(self, image: LoadedImage, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Pipeline steps 1-2: the image's VAE posterior ``(mean, std)``, each ``1 x 4 x S/8 x S/8``
        float32 CPU, cached per image and size."""

        def encode() -> tuple[torch.Tensor, torch.Tensor]:
            # 1. Squash to S x S and scale to [-1, 1] (the official Normalize(0.5, 0.5)).
            pixels = torch.from_numpy(squash(image.rgb, size).astype(np.float32) / 255.0)
            pixels = ((pixels - 0.5) / 0.5).permute(2, 0, 1)[None]  # 1 x 3 x S x S
            # 2. The VAE encoder's posterior moments.
            return encode_posterior(self.parts, pixels)

        def from_disk_or_encode() -> tuple[torch.Tensor, torch.Tensor]:
            if self.disk is None:
                return encode()
            key = self.disk_key() | {"kind": "vae-posterior", "image": image.digest, "size": size}
            moments = self.disk.get_or_create(key, lambda: dict(zip(("mean", "std"), encode(), strict=True)))
            return moments["mean"], moments["std"]

        return self.latents.get_or_create((image.digest, size), from_disk_or_encode)

    def unet(self, latents: torch.Tensor, t: int, states: torch.Tensor, layer: int) -> torch.Tensor:
        """Pipeline step 4 for one batch: ``B x 4 x h x w`` noised latents -> ``B x C x h' x w'`` float32
        output of ``up_blocks[layer]``, the UNet stopped there, in the runtime's device and precision."""
        runtime = self.parts.runtime
        latents = latents.to(runtime.device, runtime.weights_dtype)
        states = states.to(runtime.device, runtime.weights_dtype).expand(latents.shape[0], -1, -1)
        with runtime.autocast():
            return up_block_features(self.parts.unet, latents, t, states, (layer,))[layer].float()
