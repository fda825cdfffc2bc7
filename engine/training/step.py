"""One forward pass of training: a micro-batch of pairs, their prompts, their features, their losses.

Features follow steps 1-5 of engine.pipeline (docs/algorithm.md#features: squash, VAE posterior, noise
at t, truncated UNet, ensemble mean) with two differences: gradients flow back through the UNet
and the text encoder into the prompt, and the randomness comes from the pair's training
generator (:func:`engine.training.schedule.noise_generator`) instead of the image digest. From
that generator, in this order: the source posterior sample, the target posterior sample, then
the ``2 x E`` noise draws (source first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch

from ..datasets import PairSample
from ..features.stable_diffusion import StableDiffusionFeatures
from ..frames import GridFrame
from ..images import LoadedImage
from ..models.unet_features import up_block_features
from .config import TrainingConfig
from .loss import pair_loss


@dataclass(frozen=True, eq=False)
class TrainingExample:
    """A pair decoded for a step.

    Attributes:
        sample: the annotated pair.
        source, target: its decoded images (mirrored when the pair is flipped).
        key: the learned tokens that condition it ("dataset", a category, or "" for CPM).
        generator: where its posterior samples and noise come from.
    """

    sample: PairSample
    source: LoadedImage
    target: LoadedImage
    key: str
    generator: torch.Generator

    @classmethod
    def load(cls, sample: PairSample, key: str, generator: torch.Generator) -> TrainingExample:
        return cls(sample, *sample.load_images(), key, generator)


class PairLoss:
    """Computes the per-pair losses of a micro-batch.

    Args:
        backend: the SD feature extractor (its posterior cache is shared with inference).
        config: timestep, layer, size, ensemble and the loss settings.
        autocast: context-manager factory of the run's mixed precision.
    """

    def __init__(
        self,
        backend: StableDiffusionFeatures,
        config: TrainingConfig,
        autocast: Callable[[], AbstractContextManager],
    ) -> None:
        self.backend = backend
        self.config = config
        self.autocast = autocast

    def __call__(self, examples: Sequence[TrainingExample], states: torch.Tensor) -> torch.Tensor:
        """Losses of ``B`` pairs, pair i conditioned (both images) by ``states[i]``.

        Args:
            examples: the pairs.
            states: ``B x L x D`` encoder hidden states (differentiable).

        Returns:
            ``B`` float32 losses.
        """
        config = self.config
        features = self.features(examples, states)  # 2B x C x h x w: source, target, source, ...
        losses = []
        for index, example in enumerate(examples):
            source_map, target_map = features[2 * index], features[2 * index + 1]
            source_grid = self._grid_points(example.source, example.sample.source_points, source_map)
            target_grid = self._grid_points(example.target, example.sample.target_points, target_map)
            losses.append(
                pair_loss(
                    source_map,
                    target_map,
                    source_grid,
                    target_grid,
                    config.temperature,
                    config.kernel_size,
                    config.sigma,
                )
            )
        return torch.stack(losses)

    def features(self, examples: Sequence[TrainingExample], states: torch.Tensor) -> torch.Tensor:
        """``2B x C x h x w`` float32 ensemble-mean features, source then target of each pair."""
        parts, config = self.backend.parts, self.config
        ensemble = config.ensemble
        latents, noise = [], []
        for example in examples:
            for image in (example.source, example.target):
                mean, std = self.backend.posterior(image, config.size)
                eps = torch.randn(mean.shape, generator=example.generator, dtype=torch.float32)
                latents.append((mean + std * eps) * parts.latent_scale)
            shape = (2 * ensemble, *latents[-1].shape[1:])
            noise.append(torch.randn(shape, generator=example.generator, dtype=torch.float32))
        clean = torch.cat(latents).repeat_interleave(ensemble, dim=0)  # 2BE x 4 x S/8 x S/8
        noisy = parts.scheduler.add_noise(clean, torch.cat(noise), torch.tensor([config.timestep]))
        runtime = parts.runtime
        conditioning = states.repeat_interleave(2 * ensemble, dim=0).to(runtime.device, runtime.weights_dtype)
        noisy = noisy.to(runtime.device, runtime.weights_dtype)
        with self.autocast():
            output = up_block_features(parts.unet, noisy, config.timestep, conditioning, (config.layer,))[config.layer]
        output = output.float()
        return output.reshape(2 * len(examples), ensemble, *output.shape[1:]).mean(dim=1)

    def _grid_points(self, image: LoadedImage, points: np.ndarray, features: torch.Tensor) -> torch.Tensor:
        """``N x 2`` pixel points -> grid points of ``features`` (align-corners), clamped onto the grid.

        A point on the outer half pixel of an image lands just beyond the last cell centre, and
        annotations can sit a hair outside the image; the official code clamps keypoints likewise.
        """
        height, width = features.shape[-2:]
        frame = GridFrame(image.width, image.height, self.config.size, int(width), int(height))
        grid = torch.from_numpy(frame.pixels_to_grid(points)).float().to(features.device)
        limit = torch.tensor([width - 1, height - 1], dtype=grid.dtype, device=grid.device)
        return torch.minimum(grid.clamp(min=0), limit)
