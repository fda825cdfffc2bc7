"""SD4Match inference in one place: the numbered steps every match runs, each one call into its owner.

Read top to bottom, this module is the method. Each step is one call into the module that owns
it; the section of docs/algorithm.md named beside it says what the step computes and where the
paper or the official code decides a detail::

    step                              call (owner)                                        docs/algorithm.md
    0  prompt -> 1 x 77 x D states    PromptBuilder.conditioning (prompts/builder.py)     #prompts
    1  squash to S x S, [-1, 1]       StableDiffusionFeatures.posterior                   #squash
                                        -> squash (features/feature_map.py)
    2  VAE posterior (cached)         StableDiffusionFeatures.posterior                   #vae-posterior
                                        -> encode_posterior (models/stable_diffusion.py)
    3  seeded noise                   posterior_and_noise (randomness.py)                 #randomness-contract
    4  noise to t, truncated UNet     scheduler.add_noise, StableDiffusionFeatures.unet   #truncated-unet
                                        -> up_block_features (models/unet_features.py)
    5  ensemble mean                  ensemble_sums, EnsembleMean (this module)           #ensemble-mean
    6  cosine similarity              PreparedPair.match -> sample_features,              #cosine-similarity
                                        cosine_scores (localisation.py)
    7  kernel soft-argmax             localise (localisation.py), confidence,             #localisation
                                        GridFrame.grid_to_pixels (frames.py)

This is the Matcher's own path, not a copy of it: :meth:`engine.matcher.Matcher.prepare` runs step 0
and then :func:`image_feature_stream` for each image behind its feature cache (the two images'
UNet batches in turns, so that running means of both exist early: the progressive ensemble), and
:meth:`engine.prepared_pair.PreparedPair.match` runs steps 6-7. :func:`sd4match` calls the same
functions in one go, one image after the other; ``tests/engine/test_pipeline.py`` checks that the
two give the same bits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .errors import SettingsError
from .features.feature_map import FeatureMap, combine_dual_layer
from .models.interrupt import interruptible
from .prepared_pair import MatchResult, PreparedPair
from .progress import SILENT, Progress
from .prompts.spec import PromptSpec
from .randomness import posterior_and_noise
from .settings import FeatureSettings, LocalisationSettings

if TYPE_CHECKING:
    from .features.stable_diffusion import StableDiffusionFeatures
    from .images import LoadedImage
    from .matcher import Matcher


def sd4match(
    matcher: Matcher,
    source: LoadedImage,
    target: LoadedImage,
    prompt: PromptSpec,
    settings: FeatureSettings,
    points_xy: np.ndarray,
    localisation: LocalisationSettings | None = None,
    progress: Progress = SILENT,
) -> MatchResult:
    """SD4Match on one image pair: ``N x 2`` source points in, their matches on the target out.

    Equal, bit for bit, to ``matcher.prepare(source, target, prompt, settings).match(points_xy,
    localisation)``, without the Matcher's feature cache (the posterior and prompt caches apply).

    Args:
        matcher: holds the models and their caches (loads Stable Diffusion on first use).
        source, target: the decoded images.
        prompt: what conditions the UNet.
        settings: how the feature maps are made.
        points_xy: ``N x 2`` source points, original source pixels, (0, 0) = centre of the
            top-left pixel.
        localisation: how a score map becomes a point (default: kernel soft-argmax, sigma 7 cells,
            temperature 0.04).
        progress: receives stage names; may cancel between stages.
    """
    if settings.backend == "sift":
        raise SettingsError("the SD4Match pipeline needs the Stable Diffusion backend, not 'sift'")
    backend = matcher.stable_diffusion(progress)
    # 0. Prompt: empty/text through CLIP, or learned token embeddings (CPM: from DINOv2 patches of
    #    both images) through CLIP's transformer -> 1 x 77 x D states, cached per prompt (CPM: per pair).
    conditioning = matcher.prompts.conditioning(prompt, source, target)
    # 1-5. Each image's feature map under that one conditioning (see feature_map below).
    source_map = feature_map(backend, source, conditioning.states, settings, progress.prefixed("source: "))
    target_map = feature_map(backend, target, conditioning.states, settings, progress.prefixed("target: "))
    # 6. Cosine of each source point's feature against every target cell; 7. kernel soft-argmax on
    #    that score map, back to target pixels, and the confidence (PreparedPair.match).
    return PreparedPair(source, target, source_map, target_map).match(points_xy, localisation)


def feature_map(
    backend: StableDiffusionFeatures,
    image: LoadedImage,
    states: torch.Tensor,
    settings: FeatureSettings,
    progress: Progress = SILENT,
) -> FeatureMap:
    """Steps 1-5 for one image, with the geometry that maps its pixels onto the feature grid."""
    features = image_features(backend, image, states, settings, progress)
    return FeatureMap.build(features, image.width, image.height, settings.size)


@dataclass(frozen=True)
class EnsembleMean:
    """The running ensemble mean of one image: ``total`` summed over ``done`` of ``passes`` UNet
    member passes (E members times the timesteps). The last one of a stream is the final map.

    Attributes:
        total: ``C x h x w`` float32 sum over the passes so far (dual layer: the combined map, ``done`` 1).
        done, passes: member passes summed so far, and in all.
    """

    total: torch.Tensor
    done: int
    passes: int

    @property
    def final(self) -> bool:
        return self.done == self.passes

    def features(self) -> torch.Tensor:
        """``C x h x w`` float32: the mean of the passes so far; for the final one exactly the
        non-progressive :func:`image_features` (the same sum divided by the same count)."""
        return self.total / self.done


@torch.no_grad()
def image_features(
    backend: StableDiffusionFeatures,
    image: LoadedImage,
    states: torch.Tensor,
    settings: FeatureSettings,
    progress: Progress = SILENT,
) -> torch.Tensor:
    """Steps 1-5: the ``C x h x w`` float32 feature map of one image (SD2-1, layer 1, S = 768:
    1280 x 48 x 48), on the model device.

    Args:
        backend: the loaded SD model, its posterior cache and UNet batch size.
        image: the decoded image.
        states: ``1 x L x D`` conditioning (step 0).
        settings: timestep(s), layer(s), ensemble size E, input size S, seed.
        progress: receives stage names; may cancel between stages.
    """
    backend.check(settings)
    # A cancel stops the VAE and UNet passes between their blocks, not only between the calls.
    with interruptible(backend.parts, progress):
        return _last(image_feature_stream(backend, image, states, settings, progress)).features()


@torch.no_grad()
def image_feature_stream(
    backend: StableDiffusionFeatures,
    image: LoadedImage,
    states: torch.Tensor,
    settings: FeatureSettings,
    progress: Progress = SILENT,
) -> Iterator[EnsembleMean]:
    """Steps 1-5 as they progress: after each UNet batch, the running :class:`EnsembleMean`; the
    last item is final and its ``features()`` are :func:`image_features`, bit for bit (it is the
    same computation: that function consumes this stream). A dual-layer recipe yields only the final.

    The caller checks the settings (``backend.check``) and makes the passes interruptible.
    """
    progress("VAE latent", 0.0)
    # 1. Squash to S x S (aspect not kept) and scale to [-1, 1]; 2. the VAE posterior's mean and
    #    std, cached per image and S (neither prompt, timestep nor seed changes them).
    mean, std = backend.posterior(image, settings.size)
    # 3. Seeded noise: the image's own generator (pixel digest + seed) draws the posterior sample,
    #    then the E noise maps; the same image gives the same features whatever ran before.
    eps, noise = posterior_and_noise(image.digest, settings.seed, tuple(mean.shape[1:]), settings.ensemble)
    latent = (mean + std * eps) * backend.parts.latent_scale  # 1 x 4 x S/8 x S/8, float32 on the CPU
    # 4-5. Noise to t, UNet up to up_blocks[layer], mean over the E members.
    sums = ensemble_sums(backend, latent, noise, states, settings.layer, settings.timesteps, progress)
    if settings.dual_layer is None:
        yield from sums
        return
    first = _last(sums).features()
    # Exploratory dual-layer recipe: a second up block at its own timestep, same latent and noise.
    dual = settings.dual_layer
    second = ensemble_mean(backend, latent, noise, states, dual.second_layer, (dual.second_timestep,), progress)
    yield EnsembleMean(combine_dual_layer(first, second, dual.weights), 1, 1)


def ensemble_mean(
    backend: StableDiffusionFeatures,
    latent: torch.Tensor,
    noise: torch.Tensor,
    states: torch.Tensor,
    layer: int,
    timesteps: tuple[int, ...],
    progress: Progress = SILENT,
) -> torch.Tensor:
    """Steps 4-5: ``up_blocks[layer]`` averaged over E noised copies of one latent (and over
    timesteps): the last of :func:`ensemble_sums`, divided by its count.

    Returns:
        ``C x h' x w'`` float32 on the model device.
    """
    return _last(ensemble_sums(backend, latent, noise, states, layer, timesteps, progress)).features()


def ensemble_sums(
    backend: StableDiffusionFeatures,
    latent: torch.Tensor,
    noise: torch.Tensor,
    states: torch.Tensor,
    layer: int,
    timesteps: tuple[int, ...],
    progress: Progress = SILENT,
) -> Iterator[EnsembleMean]:
    """Steps 4-5 batch by batch: the running sum of ``up_blocks[layer]`` over the noised copies so far.

    Args:
        latent: ``1 x 4 x h x w`` clean latent (float32, CPU).
        noise: ``E x 4 x h x w``; copy i is noised with ``noise[i]`` (SD4Match: one latent, E noises).
        states: ``1 x L x D`` conditioning, shared by every copy.
        layer: up-block index.
        timesteps: the paper's single t, or several (exploratory; their features are averaged too).

    Yields:
        After each UNet call, an :class:`EnsembleMean` (``C x h' x w'`` float32 sums on the model
        device); the last covers every copy at every timestep. Reading the partial ones costs no
        model work and changes nothing in the sum.
    """
    ensemble = noise.shape[0]
    passes = len(timesteps) * ensemble
    total = torch.zeros(())
    for t_index, t in enumerate(timesteps):
        # 4. x_t = sqrt(abar_t) * latent + sqrt(1 - abar_t) * noise with the model's own scheduler, then
        #    the UNet stopped after up_blocks[layer], at most max_batch copies per call (bounds memory).
        noisy = backend.parts.scheduler.add_noise(latent.expand(ensemble, -1, -1, -1), noise, torch.tensor([t]))
        for start in range(0, ensemble, backend.max_batch):
            progress(f"UNet t={t}", (t_index * ensemble + start) / passes)
            total = total + backend.unet(noisy[start : start + backend.max_batch], t, states, layer).sum(dim=0)
            # 5. The ensemble mean: sum / count, of the members so far (all of them, the last time).
            yield EnsembleMean(total, t_index * ensemble + min(start + backend.max_batch, ensemble), passes)


def _last(means: Iterator[EnsembleMean]) -> EnsembleMean:
    """Run a stream to its end (keeping only the newest sum) and return its final item."""
    return deque(means, maxlen=1)[0]
