"""SD4Match features: VAE latent, noise at t, truncated UNet, ensemble average (algorithm.md section 2)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import LRUCache, tensor_bytes
from ..errors import SettingsError
from ..images import LoadedImage
from ..models.stable_diffusion import StableDiffusionParts, encode_posterior
from ..models.unet_features import up_block_features
from ..progress import SILENT, Progress
from ..randomness import posterior_and_noise
from ..settings import FeatureSettings
from .feature_map import squash


class StableDiffusionFeatures:
    """Extracts UNet up-block features of one image under one conditioning.

    The VAE posterior of each image is cached (it depends on neither prompt, timestep nor seed),
    so switching prompt variant or timestep costs UNet passes only.

    Args:
        parts: the loaded SD model.
        max_batch: most ensemble members per UNet call; bounds memory on small machines.
        latent_cache_bytes: budget for cached posteriors (SD2-1 at 768: 295 kB per image).
    """

    name = "sd"

    def __init__(self, parts: StableDiffusionParts, max_batch: int | None = None, latent_cache_bytes: int = 256 << 20):
        self.parts = parts
        self.max_batch = max_batch or (8 if parts.runtime.device.type == "cuda" else 2)
        self.latents: LRUCache[tuple[torch.Tensor, torch.Tensor]] = LRUCache(
            latent_cache_bytes, lambda moments: tensor_bytes(*moments)
        )

    @property
    def identity(self) -> str:
        return f"sd:{self.parts.identity}:{self.parts.runtime.label}"

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

    @torch.no_grad()
    def extract(
        self, image: LoadedImage, states: torch.Tensor, settings: FeatureSettings, progress: Progress = SILENT
    ) -> torch.Tensor:
        """Feature map of ``image``.

        Args:
            image: the decoded image.
            states: ``1 x L x D`` conditioning.
            settings: timestep(s), layer(s), ensemble size, input size, seed.
            progress: receives stage names; may cancel between stages.

        Returns:
            ``C x h x w`` float32 on the model device (SD2-1, layer 1, S = 768: 1280 x 48 x 48).
        """
        self.check(settings)
        progress("VAE latent", 0.0)
        mean, std = self.posterior(image, settings.size)
        eps, noise = posterior_and_noise(image.digest, settings.seed, tuple(mean.shape[1:]), settings.ensemble)
        latent = (mean + std * eps) * self.parts.latent_scale  # 1 x 4 x S/8 x S/8, float32 on the CPU

        features = self._timestep_average(latent, noise, states, settings.layer, settings.timesteps, progress)
        if settings.dual_layer is None:
            return features
        dual = settings.dual_layer
        second = self._timestep_average(latent, noise, states, dual.second_layer, (dual.second_timestep,), progress)
        return combine_dual_layer(features, second, dual.weights)

    def posterior(self, image: LoadedImage, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The image's VAE posterior ``(mean, std)``, each ``1 x 4 x S/8 x S/8`` float32 CPU (cached)."""

        def encode() -> tuple[torch.Tensor, torch.Tensor]:
            pixels = torch.from_numpy(squash(image.rgb, size).astype(np.float32) / 255.0)
            pixels = ((pixels - 0.5) / 0.5).permute(2, 0, 1)[None]  # 1 x 3 x S x S in [-1, 1]
            return encode_posterior(self.parts, pixels)

        return self.latents.get_or_create((image.digest, size), encode)

    def _timestep_average(
        self,
        latent: torch.Tensor,
        noise: torch.Tensor,
        states: torch.Tensor,
        layer: int,
        timesteps: tuple[int, ...],
        progress: Progress,
    ) -> torch.Tensor:
        """Mean over timesteps and ensemble members of ``up_blocks[layer]``: ``C x h x w`` float32."""
        total = torch.zeros(())
        ensemble = noise.shape[0]
        for t_index, t in enumerate(timesteps):
            noisy = self.parts.scheduler.add_noise(latent.expand(ensemble, -1, -1, -1), noise, torch.tensor([t]))
            for start in range(0, ensemble, self.max_batch):
                done = (t_index * ensemble + start) / (len(timesteps) * ensemble)
                progress(f"UNet t={t}", done)
                chunk = noisy[start : start + self.max_batch]
                total = total + self._unet(chunk, t, states, layer).sum(dim=0)
        return total / (len(timesteps) * ensemble)

    def _unet(self, latents: torch.Tensor, t: int, states: torch.Tensor, layer: int) -> torch.Tensor:
        runtime = self.parts.runtime
        latents = latents.to(runtime.device, runtime.weights_dtype)
        states = states.to(runtime.device, runtime.weights_dtype).expand(latents.shape[0], -1, -1)
        with runtime.autocast():
            return up_block_features(self.parts.unet, latents, t, states, (layer,))[layer].float()


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
