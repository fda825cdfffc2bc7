"""Work that waits until the window has painted what is pending: the images' frame first.

Qt posts a window's repaint at low priority, after every other pending event. Work posted at that
same priority after it runs once the frame is on screen (at once where nothing waits to be
painted). A click's own frame then costs only what it shows; what can follow a few milliseconds
later (the panels beside the images, the review queue, the autosave) does, in the next one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt

_RUN = QEvent.Type(QEvent.registerEventType())


class NextFrame(QObject):
    """Runs ``work`` after the pending repaint; requests made before it runs are one run."""

    def __init__(self, work: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._pending = False

    @property
    def pending(self) -> bool:
        """Whether a run is requested and has not happened yet."""
        return self._pending

    def request(self) -> None:
        if not self._pending:
            self._pending = True
            QCoreApplication.postEvent(self, QEvent(_RUN), Qt.EventPriority.LowEventPriority.value)

    def run_now(self) -> None:
        """Run a requested run at once (the window closes: nothing will be painted)."""
        if self._pending:
            self.customEvent(QEvent(_RUN))

    def customEvent(self, event: QEvent) -> None:
        if event.type() == _RUN and self._pending:
            self._pending = False
            self._work()
