"""Paint an edit together with the engine's answer to it: one canvas repaint per click, not two.

A repaint of the canvas costs 5-10 ms whatever changed (pyqtgraph walks every item and blits the
images and layers), and the engine's answer to a click follows within a few milliseconds when the
features are cached, to be painted again. :class:`AnswerWait` lets the canvas keep its pixels
(:meth:`PairCanvas.hold_paint`) from the edit until the answer has been drawn, so both appear in
one repaint and the answer sooner. The views themselves are updated at once as before: only the
painting waits, and at most :data:`ANSWER_WAIT_MS` (then, or when the request ends without an
answer, e.g. it failed or was cancelled, the edit is painted alone).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from ..views.pair_canvas import PairCanvas

# Far under what a person notices, and longer than a cached answer takes on a busy two-core
# machine (5-25 ms from the click, ``python -m sd4match_gui.benchmark``).
ANSWER_WAIT_MS = 40


class AnswerWait(QObject):
    """One wait at a time for the answer to the newest edit."""

    def __init__(self, canvas: PairCanvas) -> None:
        super().__init__()
        self._canvas = canvas
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.end)

    def start(self) -> None:
        """Hold the canvas's pixels. A wait already running is not extended: an edit waits at most
        :data:`ANSWER_WAIT_MS` to be painted, however many follow it."""
        if not self._timer.isActive():
            self._canvas.hold_paint()
            self._timer.start(ANSWER_WAIT_MS)

    def end(self) -> None:
        """Paint what the views show now: the answer was drawn, the time is up or none will come."""
        self._timer.stop()
        self._canvas.release_paint()
