"""What a training run tells its caller: after each step, after each epoch, and at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepReport:
    """One optimiser step done.

    Attributes:
        step: steps done so far in the run (1-based, counts steps of resumed sessions too).
        total_steps: steps of the whole run.
        epoch: 1-based epoch the step belongs to.
        loss: mean loss over the step's pairs, all processes together.
        seconds: wall time of the step.
    """

    step: int
    total_steps: int
    epoch: int
    loss: float
    seconds: float


@dataclass(frozen=True)
class EpochReport:
    """One epoch done and (when there are validation pairs) validated.

    Attributes:
        epoch: 1-based.
        step: steps done at its end.
        train_loss: mean step loss of the epoch.
        score: validation PCK in [0, 1], or None without validation pairs.
        best_epoch, best_score: the kept prompt's epoch and score (the last epoch without validation).
        improved: this epoch's prompt became the kept one.
    """

    epoch: int
    step: int
    train_loss: float
    score: float | None
    best_epoch: int
    best_score: float | None
    improved: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochReport:
        return cls(**data)


@dataclass(frozen=True)
class TrainingResult:
    """Where a run stands when :meth:`PromptTrainer.fit` returns.

    Attributes:
        prompt_file: the kept prompt (``caption.pt`` / ``ckpt.pt``), None if no epoch finished yet.
        sidecar: the ``training.json`` beside it.
        resume_file: the state a later ``resume=True`` continues from.
        steps_done, total_steps: progress of the whole run.
        history: every finished epoch, resumed sessions included.
        stopped: the caller cancelled; call again with ``resume=True`` to continue.
    """

    prompt_file: Path | None
    sidecar: Path
    resume_file: Path
    steps_done: int
    total_steps: int
    history: tuple[EpochReport, ...]
    stopped: bool

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.total_steps and not self.stopped

    @property
    def best(self) -> EpochReport | None:
        """The report of the epoch whose prompt is kept."""
        kept = [report for report in self.history if report.improved]
        return kept[-1] if kept else None
