"""Everything that decides what a prompt-tuning run computes, in one frozen, recordable value.

Defaults are the paper's and the official scripts' (docs/algorithm.md#training):
Adam at a constant 1e-2 (1e-3 for CPM's two linear layers), t = 261, ensemble 1, a global batch
of 9 pairs, softmax temperature 0.04 against a 7 x 7 Gaussian target of sigma 1.5, SPair's 5
epochs, and model selection by nearest-neighbour (argmax) PCK@0.1 on the validation pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from ..errors import SettingsError
from ..prompts.library import SET_NAME
from ..prompts.spec import LEARNED_VARIANTS
from ..settings import (
    LOCALISATIONS,
    MAX_LAYER,
    MAX_TIMESTEP,
    SIGMA_RANGE,
    require_integer,
    require_number,
    require_temperature,
)

Precision = Literal["auto", "float32", "float16", "bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")
# Settings that may change when a run is resumed: they do not alter the steps already taken.
RESUMABLE_CHANGES = ("epochs", "save_every", "log_every")


@dataclass(frozen=True)
class TrainingConfig:
    """A prompt-tuning run.

    Attributes:
        variant: "single" (one prompt for all pairs), "class" (one per category) or "cpm"
            (conditional prompt module on DINOv2 features of the pair).
        prompt_set: name of the tuned set; the files go to ``{Single|Class|CPM}_{prompt_set}_sd2-1_...``.
        epochs: passes over the training pairs (paper: SPair 5, PF-Pascal 90).
        batch_size: pairs per optimiser step, over all processes together (paper: 3 x 3 GPUs = 9);
            must be a multiple of the number of processes.
        micro_batch: pairs per forward pass; gradients of a step's micro-batches are accumulated,
            so this bounds memory without changing the result.
        learning_rate: Adam's constant rate for the prompt tokens (and CPM's free parameters).
        linear_learning_rate: Adam's rate for CPM's ``linear_C`` and ``linear_N``.
        timestep: diffusion timestep t of the noised latents (training and validation).
        layer: UNet up block whose output is the feature.
        size: side S of the squashed input.
        ensemble: noise draws averaged per image and step.
        temperature: softmax temperature of the loss over target cells.
        kernel_size: side of the Gaussian target window, in cells.
        sigma: width of the Gaussian target, in cells.
        seed: seeds the initial prompt, the pair order and every noise draw.
        selection: localisation used by validation PCK: "argmax" (the official model selection),
            "kernel" (the paper's reported metric) or "softargmax".
        alpha: PCK threshold factor of validation.
        precision: "float32", "float16" or "bfloat16" mixed precision (autocast; float16 also scales
            the loss); "auto" is float16 on CUDA, float32 elsewhere, or what ``accelerate launch
            --mixed_precision`` asked for.
        min_points: fewest ground-truth points the training data may have (pairs without
            points are left out).
        save_every: optimiser steps between resume checkpoints (each epoch end saves too).
        log_every: optimiser steps between progress lines of the command line.
    """

    variant: str
    prompt_set: str
    epochs: int = 5
    batch_size: int = 9
    micro_batch: int = 1
    learning_rate: float = 1e-2
    linear_learning_rate: float = 1e-3
    timestep: int = 261
    layer: int = 1
    size: int = 768
    ensemble: int = 1
    temperature: float = 0.04
    kernel_size: int = 7
    sigma: float = 1.5
    seed: int = 0
    selection: str = "argmax"
    alpha: float = 0.1
    precision: Precision = "auto"
    min_points: int = 1
    save_every: int = 50
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.variant not in LEARNED_VARIANTS:
            raise SettingsError(f"cannot tune a {self.variant!r} prompt; choose one of {', '.join(LEARNED_VARIANTS)}")
        if not isinstance(self.prompt_set, str) or not SET_NAME.match(self.prompt_set):
            raise SettingsError(f"prompt set name {self.prompt_set!r} may contain only letters, digits and '-'")
        positive = ("epochs", "batch_size", "micro_batch", "ensemble", "kernel_size", "min_points", "save_every")
        for name in (*positive, "log_every"):
            require_integer(getattr(self, name), name.replace("_", " "), 1)
        for name in ("learning_rate", "linear_learning_rate"):
            require_number(getattr(self, name), name.replace("_", " "), 1e-12, 1e3)
        require_temperature(self.temperature)
        require_number(self.sigma, "sigma", *SIGMA_RANGE, " feature cells")
        require_number(self.alpha, "alpha", 1e-6, 1.0)
        if self.kernel_size % 2 == 0:
            raise SettingsError(f"kernel size {self.kernel_size} must be odd (the window is centred on the point)")
        require_integer(self.timestep, "timestep", 0, MAX_TIMESTEP)
        require_integer(self.layer, "layer", 0, MAX_LAYER)
        require_integer(self.seed, "seed", 0)
        require_integer(self.size, "input size", 64)
        if self.size % 8:
            raise SettingsError(f"input size {self.size} must be a multiple of 8 and at least 64")
        if self.selection not in LOCALISATIONS:
            raise SettingsError(f"unknown selection {self.selection!r}; choose one of {', '.join(LOCALISATIONS)}")
        if self.precision not in PRECISIONS:
            raise SettingsError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def differences(self, other: TrainingConfig) -> list[str]:
        """Names of the settings that differ from ``other`` and would change the steps taken."""
        return [
            f.name
            for f in fields(self)
            if f.name not in RESUMABLE_CHANGES and getattr(self, f.name) != getattr(other, f.name)
        ]
