"""What a tuning run leaves on disk, every file written atomically.

Inside the prompt library folder given to the run::

    {Single|Class}_{set}_sd2-1_TokenEmbeds75/caption.pt      the kept (best) prompt, official format
    CPM_{set}_sd2-1_Pair-DINO-Feat-G25-C50/ckpt.pt            (one of the two, by variant)
    .../training.json                                         sidecar: settings, data, history
    .../resume.pt                                             latest training state, for resume

The library finds the prompt files by folder and file name, exactly as released prompts, so
``--prompts LIBRARY --prompt-set SET`` loads a tuned prompt everywhere; it ignores the other two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..errors import PromptError, SettingsError
from ..prompts.library import FILE_NAMES, folder_name

SIDECAR_NAME = "training.json"
RESUME_NAME = "resume.pt"
SIDECAR_FORMAT = "sd4match-tuned-prompt"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class RunFolder:
    """The files of one run.

    Attributes:
        library: the prompt library folder (``--prompts``).
        variant, prompt_set: which prompt; they name the folder.
    """

    library: Path
    variant: str
    prompt_set: str

    @property
    def folder(self) -> Path:
        return self.library / folder_name(self.variant, self.prompt_set)

    @property
    def prompt_file(self) -> Path:
        return self.folder / FILE_NAMES[self.variant]

    @property
    def sidecar(self) -> Path:
        return self.folder / SIDECAR_NAME

    @property
    def resume_file(self) -> Path:
        return self.folder / RESUME_NAME

    def check_start(self, resume: bool, overwrite: bool) -> None:
        """Refuse to silently replace a run, or to resume one that is not there."""
        if self.library.suffix.lower() in (".zip", ".pt"):
            raise SettingsError(f"tuned prompts are written into a library folder, not into '{self.library}'")
        if resume and not self.resume_file.is_file():
            raise SettingsError(f"nothing to resume: '{self.resume_file}' does not exist")
        existing = [path for path in (self.prompt_file, self.resume_file) if path.exists()]
        if existing and not (resume or overwrite):
            raise SettingsError(
                f"'{self.folder}' already holds a tuned prompt; resume it (--resume; app: Resume), replace it "
                f"(--overwrite; app: 'Replace an earlier prompt of this name') or choose another name (--prompt-set)"
            )

    def clear(self) -> None:
        """Remove an earlier run's prompt, state and sidecar."""
        for path in (self.prompt_file, self.resume_file, self.sidecar):
            path.unlink(missing_ok=True)


def save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    """``torch.save`` a dict atomically (a crash leaves the previous file whole)."""
    with atomic.atomic_writer(path) as handle:
        torch.save(tensors, handle)


@dataclass
class TrainingState:
    """Everything a resumed run needs; the random draws follow from ``step`` (see ``schedule``).

    Attributes:
        step: optimiser steps done.
        module: the prompt module's state dict.
        optimizer: Adam's state dict (moments and step counts).
        scaler: the float16 loss scaler's state dict, if one is used.
        history: ``EpochReport.to_dict()`` of every finished epoch.
        epoch_losses: step losses of the unfinished epoch.
        config: ``TrainingConfig.to_dict()``.
        data: fingerprints of the training and validation pairs.
        keys: the token prompts' keys, in module order ("" entries for CPM are absent).
    """

    step: int
    module: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scaler: dict[str, Any] | None
    history: list[dict[str, Any]]
    epoch_losses: list[float]
    config: dict[str, Any]
    data: dict[str, str | None]
    keys: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        save_tensors(path, self.__dict__)

    @classmethod
    def load(cls, path: Path) -> TrainingState:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            return cls(**data)
        except Exception as exc:  # torch raises many types for one cause: not our state file.
            raise PromptError(f"cannot resume from '{path}': not a readable training state ({exc})") from exc
