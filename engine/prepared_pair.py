"""A pair of images with features ready: the cheap, per-click side of the engine.

Like SAM's predictor, the expensive work (feature extraction) happens once when the pair is
prepared; :meth:`PreparedPair.match` and :meth:`PreparedPair.score_maps` then cost one sample, one
``N x C`` by ``C x h*w`` product and a softmax: milliseconds. They are steps 6 (cosine) and 7
(kernel soft-argmax) of :mod:`engine.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .features import FeatureMap
from .frames import validate_points
from .images import LoadedImage
from .localisation import confidence, cosine_scores, localise, sample_features
from .settings import LocalisationSettings


@dataclass(frozen=True)
class MatchResult:
    """Matches of N source points; every array is numpy.

    Attributes:
        query_xy: ``N x 2`` source points, original source pixels.
        match_xy: ``N x 2`` predicted points, original target pixels ((0, 0) = centre of the
            top-left pixel).
        confidence: ``N`` values in [0, 1] (see :func:`engine.localisation.confidence`).
        grid_xy: ``N x 2`` predictions on the target feature grid.
    """

    query_xy: np.ndarray
    match_xy: np.ndarray
    confidence: np.ndarray
    grid_xy: np.ndarray

    def __len__(self) -> int:
        return len(self.query_xy)


@dataclass(frozen=True, eq=False)
class PreparedPair:
    """Source and target features of one variant, ready for queries.

    Attributes:
        source_image, target_image: the decoded images.
        source, target: their feature maps.
        run: what produced the features (backend, model, prompt, settings), as exports record it.
    """

    source_image: LoadedImage
    target_image: LoadedImage
    source: FeatureMap
    target: FeatureMap
    run: dict[str, Any] = field(default_factory=dict)

    @torch.no_grad()
    def score_maps(self, points_xy: np.ndarray) -> np.ndarray:
        """Cosine similarity of each source point against every target cell.

        Args:
            points_xy: ``N x 2`` source pixels.

        Returns:
            ``N x h x w`` float32 in [-1, 1] on the target grid; the app stretches it over the
            target image (cell centres at ``frame.grid_to_pixels``) instead of upsampling features.
        """
        points = validate_points(points_xy, self.source_image.width, self.source_image.height, "the source image")
        return self._scores(points).cpu().numpy()

    @torch.no_grad()
    def match(self, points_xy: np.ndarray, localisation: LocalisationSettings | None = None) -> MatchResult:
        """Predict where ``N x 2`` source points (original pixels) land on the target: pipeline steps 6-7."""
        settings = localisation or LocalisationSettings()
        points = validate_points(points_xy, self.source_image.width, self.source_image.height, "the source image")
        if len(points) == 0:
            empty = np.zeros((0, 2))
            return MatchResult(empty, empty, np.zeros(0), empty)
        scores = self._scores(points)
        grid_xy, _ = localise(scores, settings.method, settings.sigma, settings.temperature)
        return MatchResult(
            query_xy=points,
            match_xy=self.target.frame.grid_to_pixels(grid_xy.double().cpu().numpy()),
            confidence=confidence(scores, grid_xy, settings.temperature).cpu().numpy().astype(np.float64),
            grid_xy=grid_xy.cpu().numpy().astype(np.float64),
        )

    def _scores(self, points: np.ndarray) -> torch.Tensor:
        """Pipeline step 6: ``N x 2`` validated source pixels -> ``N x h x w`` cosine scores (torch).

        Each point goes to the source grid (align-corners), its feature is sampled bilinearly, and
        its L2-normalised vector is dotted with every L2-normalised target cell.
        """
        grid = torch.from_numpy(self.source.frame.pixels_to_grid(points)).to(self.source.features.device)
        queries = sample_features(self.source.features, grid.float())
        return cosine_scores(queries, self.target.normalised)


@dataclass(frozen=True, eq=False)
class PartialPair:
    """A pair prepared from running ensemble means, while the full ensemble is still computing.

    ``pair`` answers :meth:`PreparedPair.match` and :meth:`PreparedPair.score_maps` like the final
    pair; its features average ``done`` of ``passes`` UNet member passes (E members times the
    timesteps) of the image that is further behind. Never cached: only the final maps are.
    """

    pair: PreparedPair
    done: int
    passes: int
