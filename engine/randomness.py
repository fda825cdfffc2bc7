"""The randomness contract: pipeline step 3 (docs/algorithm.md#randomness-contract).

Each image gets its own CPU generator seeded from its pixel digest and the user's seed, so the
same image with the same settings gives the same features whatever else was computed before,
and two different images never share noise. From that generator, in this order: the VAE
posterior sample (one latent-shaped draw), then the ensemble noise.
"""

from __future__ import annotations

import torch


def image_generator(digest: str, seed: int) -> torch.Generator:
    """A fresh CPU generator for one image: ``(seed + int(digest[:15], 16)) % 2**63``."""
    return torch.Generator("cpu").manual_seed((seed + int(digest[:15], 16)) % 2**63)


def posterior_and_noise(
    digest: str, seed: int, latent_shape: tuple[int, int, int], ensemble: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the VAE posterior sample and the ensemble noise for one image.

    Args:
        digest: SHA-256 hex digest of the image's RGB bytes.
        seed: the user's seed.
        latent_shape: (4, h, w) of the latent.
        ensemble: number of noise draws E.

    Returns:
        ``eps`` of shape ``1 x 4 x h x w`` (latent = mean + std * eps) and ``noise`` of shape
        ``E x 4 x h x w``; both float32 on the CPU, drawn in that order, as
        ``latent_dist.sample(generator=g)`` followed by ``torch.randn(..., generator=g)`` would.
    """
    generator = image_generator(digest, seed)
    eps = torch.randn((1, *latent_shape), generator=generator, dtype=torch.float32)
    noise = torch.randn((ensemble, *latent_shape), generator=generator, dtype=torch.float32)
    return eps, noise
