"""Paint an edit together with the engine's answer to it: one canvas repaint per click, not two.

A repaint of the canvas costs 5-10 ms whatever changed (pyqtgraph walks every item and blits the
images and layers), and the engine's answer to a click follows within a few milliseconds when the
features are cached, to be painted again. :class:`AnswerWait` lets the canvas keep its pixels
(:meth:`PairCanvas.hold_paint`) from the edit until the answer has been drawn, so both appear in
one repaint and the answer sooner. Nothing would be seen of the views' state between the edit
and the answer, so the views are not even updated for the edit: the answer's redraw draws both
(a redraw of a thousand points costs milliseconds of the click's budget). The wait lasts at most
:data:`ANSWER_WAIT_MS`; then, or when the request ends without an answer (it failed or was
cancelled), the edit is drawn and painted alone.

The images come first: what follows the edit's frame (``after_paint``: the panels beside the
images, the autosave) runs once that frame is painted. The points table and its scroll bars
cost about as much to repaint as the canvas, and the writer thread's work (a few milliseconds of
Python per thousand points) would hold the interpreter lock that the query lane needs to compute
the answer and the window to draw it. The panels follow one frame later; the session is saved at
most :data:`ANSWER_WAIT_MS` and one repaint after the edit.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from ..views.pair_canvas import PairCanvas
from .next_frame import NextFrame

# Far under what a person notices, and longer than a cached answer takes on a busy two-core
# machine (5-25 ms from the click, ``python -m sd4match_gui.benchmark``).
ANSWER_WAIT_MS = 40


class AnswerWait(QObject):
    """One wait at a time for the answer to the newest edit.

    Args:
        canvas: holds its pixels while the wait runs.
        draw: updates the images' views from the model.
        after_paint: updates the other views and autosaves, after the frame that shows the edit.
    """

    def __init__(self, canvas: PairCanvas, draw: Callable[[], None], after_paint: Callable[[], None]) -> None:
        super().__init__()
        self._canvas = canvas
        self._draw = draw
        self._after_paint = NextFrame(after_paint, self)
        self._owed = False  # an edit was left undrawn and unsaved for the answer
        self._closed = False  # the window is closing: nothing is drawn any more
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.end)

    @property
    def owed(self) -> bool:
        """Whether an edit waits to be drawn: the next answer is drawn by :meth:`end`'s rule."""
        return self._owed

    @property
    def settled(self) -> bool:
        """Whether every view shows the newest edit and it is saved (nothing waits, nothing follows)."""
        return not self._owed and not self._after_paint.pending

    def start(self) -> None:
        """Hold the canvas's pixels and leave the edit to be drawn with its answer and saved after.
        A wait already running is not extended: an edit waits at most :data:`ANSWER_WAIT_MS` to be
        painted, however many follow it."""
        self._owed = True
        if not self._timer.isActive():
            self._canvas.hold_paint()
            self._timer.start(ANSWER_WAIT_MS)

    def end(self, drawn: bool = False) -> None:
        """Paint the images' views, then run ``after_paint``: the answer was just drawn into them
        (``drawn``), the time is up or none will come (the edit is drawn first)."""
        self._timer.stop()
        if self._closed:
            return
        owed, self._owed = self._owed, False
        if owed and not drawn:
            self._draw()
        self._canvas.release_paint()
        if owed:
            self._after_paint.request()

    def flush(self) -> None:
        """The window closes: run ``after_paint`` for an edit still waiting, now, and draw nothing
        from here on (its views are being deleted)."""
        self._closed = True
        self._timer.stop()
        if self._owed:
            self._owed = False
            self._after_paint.request()
        self._after_paint.run_now()
