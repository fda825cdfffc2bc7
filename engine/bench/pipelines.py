"""The two pipelines the benchmark compares, built on random real-architecture weights.

* **engine**: :class:`~engine.features.stable_diffusion.StableDiffusionFeatures` as the app runs
  it: cached VAE posterior, UNet stopped after the chosen up block, the runtime's precision.
* **reference-style**: what the official SD4Match code does per image: VAE encode every time,
  the latent repeated E times, the *full* UNet to ``conv_out`` with the feature taken by a hook,
  float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..features.feature_map import squash
from ..images import LoadedImage
from ..models.stable_diffusion import StableDiffusionParts, place_for_inference
from ..models.weights import LocatedWeights
from ..runtime import Runtime
from .random_init import RandomStableDiffusion


def parts_from_random(random: RandomStableDiffusion, runtime: Runtime, architecture: str) -> StableDiffusionParts:
    """Wrap in-memory random modules as loaded parts (decoder dropped, frozen, placed on the runtime)."""
    place_for_inference(random.unet, random.vae, random.text_encoder, runtime)
    weights = LocatedWeights(
        folder=Path(f"<random {architecture}>"), source=f"random:{architecture}", revision="random"
    )
    return StableDiffusionParts(
        random.unet, random.vae, random.text_encoder, random.tokenizer, random.scheduler, weights, runtime
    )


@torch.no_grad()
def reference_features(
    parts: StableDiffusionParts,
    image: LoadedImage,
    states: torch.Tensor,
    timestep: int,
    layer: int,
    ensemble: int,
    size: int,
) -> torch.Tensor:
    """Official-code-style extraction in float32: ``C x h x w``."""
    device = parts.runtime.device
    pixels = torch.from_numpy(squash(image.rgb, size).astype(np.float32) / 255.0)
    pixels = ((pixels - 0.5) / 0.5).permute(2, 0, 1)[None].to(device)
    latent = parts.vae.encode(pixels).latent_dist.sample() * parts.latent_scale
    latents = latent.repeat_interleave(ensemble, dim=0)
    noisy = parts.scheduler.add_noise(latents, torch.randn_like(latents), torch.tensor([timestep], device=device))
    captured: dict[str, torch.Tensor] = {}
    hook = parts.unet.up_blocks[layer].register_forward_hook(
        lambda module, args, output: captured.setdefault("f", output)
    )
    try:
        parts.unet(noisy, timestep, encoder_hidden_states=states.to(device).expand(ensemble, -1, -1))
    finally:
        hook.remove()
    return captured["f"].float().mean(dim=0)
