"""Validation PCK of the prompt being tuned: the model-selection metric.

Each image pair is prepared exactly as the app prepares it with a released prompt (randomness
contract, :class:`~engine.features.stable_diffusion.StableDiffusionFeatures`,
:meth:`~engine.prepared_pair.PreparedPair.match`), only with the prompt's states taken from
memory, and scored with :func:`engine.evaluation.score_pair` in the squashed S x S frame as the
paper does. The official selection is nearest-neighbour (argmax) PCK@0.1 at the training
timestep with one noise draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial

import torch

from ..cache import LRUCache
from ..datasets import PairSample
from ..evaluation import score_pair
from ..features import FeatureMap
from ..features.stable_diffusion import StableDiffusionFeatures
from ..frames import clamp_to_image
from ..images import LoadedImage
from ..prepared_pair import PreparedPair
from ..progress import SILENT, Progress
from ..settings import FeatureSettings, LocalisationSettings

# Prompt states of a pair: (pair, source image, target image) -> 1 x L x D.
StatesFor = Callable[[PairSample, LoadedImage, LoadedImage], torch.Tensor]


class Validator:
    """Scores pairs under the current prompt.

    Args:
        backend: the SD feature extractor.
        settings: feature settings of validation (training timestep, ensemble, size, seed).
        localisation: how a match is read off the score map.
        alpha: PCK threshold factor.
        autocast: context-manager factory of the run's mixed precision.
        cache_bytes: budget for feature maps re-used by pairs that share an image (token prompts).
    """

    def __init__(
        self,
        backend: StableDiffusionFeatures,
        settings: FeatureSettings,
        localisation: LocalisationSettings,
        alpha: float,
        autocast: Callable[[], AbstractContextManager],
        cache_bytes: int = 1 << 30,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.localisation = localisation
        self.alpha = alpha
        self.autocast = autocast
        self.cache_bytes = cache_bytes

    @torch.no_grad()
    def scores(
        self,
        samples: Sequence[PairSample],
        states_for: StatesFor,
        shared_key: Callable[[PairSample], str] | None,
        progress: Progress = SILENT,
    ) -> list[float]:
        """PCK@alpha in [0, 1] of each pair.

        Args:
            samples: the pairs.
            states_for: the prompt states of a pair.
            shared_key: names the prompt of a pair when it depends on nothing but this key
                (Single, Class), so that an image's features are computed once per key; None
                when the prompt depends on the pair (CPM).
            progress: stage reports; may cancel between images.
        """
        cache: LRUCache[FeatureMap] = LRUCache(self.cache_bytes, lambda feature_map: feature_map.nbytes)
        scores = []
        for index, sample in enumerate(samples):
            progress(f"validation {index + 1}/{len(samples)}", index / max(len(samples), 1))
            source, target = sample.load_images()
            states = states_for(sample, source, target)
            key = shared_key(sample) if shared_key is not None else None
            maps = [
                self._feature_map(image, states, progress)
                if key is None
                else cache.get_or_create((image.digest, key), partial(self._feature_map, image, states, progress))
                for image in (source, target)
            ]
            pair = PreparedPair(source, target, maps[0], maps[1])
            match = pair.match(clamp_to_image(sample.source_points, source.width, source.height), self.localisation)
            measurement = score_pair(sample, match.match_xy, pair.target.frame).measurements["square"]
            scores.append(float(measurement.pck((self.alpha,))[0]))
        return scores

    def _feature_map(self, image: LoadedImage, states: torch.Tensor, progress: Progress) -> FeatureMap:
        with self.autocast():
            features = self.backend.extract(image, states, self.settings, progress)
        return FeatureMap.build(features, image.width, image.height, self.settings.size)
