"""Progress reports and cooperative cancellation for the expensive stages.

Long operations call their reporter with a stage name between steps; the reporter forwards it
(to a progress bar, a Qt signal) and raises :class:`~engine.errors.Cancelled` if the caller asked
to stop. Inside the long forward passes (UNet, VAE encoder) :func:`engine.models.interrupt.interruptible`
also checks between the model's blocks, so a cancel stops a pass within one block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """Callable ``progress(stage, fraction)``: report, then honour a pending cancel.

    Attributes:
        on_update: receives ``(stage, fraction)``, fraction in [0, 1] within that stage.
        cancel_requested: returns True once the caller wants the work stopped.
    """

    on_update: Callable[[str, float], None] | None = None
    cancel_requested: Callable[[], bool] | None = None

    def __call__(self, stage: str, fraction: float = 0.0) -> None:
        self.check(stage)
        if self.on_update is not None:
            self.on_update(stage, fraction)

    def check(self, stage: str) -> None:
        """Raise :class:`~engine.errors.Cancelled` if the caller asked to stop; report nothing."""
        if self.cancel_requested is not None and self.cancel_requested():
            raise Cancelled(f"cancelled at: {stage}")

    def prefixed(self, prefix: str) -> Progress:
        """The same reporter, with ``prefix`` before every stage name (e.g. "source: ")."""
        if self.on_update is None:
            return self
        on_update = self.on_update
        return Progress(lambda stage, fraction: on_update(prefix + stage, fraction), self.cancel_requested)


SILENT = Progress()
