"""Python's cyclic garbage collector, run on the GUI thread only, while a window is open.

Automatic collection runs in whichever thread allocates when a threshold is crossed: the engine
worker, the autosave thread, a thread-pool reader. If the cycle it frees holds a Qt object that
belongs to the GUI thread, the C++ destructor runs on the wrong thread and cannot unregister the
object's timers; the GUI thread later delivers a timer event to freed memory (a segfault in
``QTimerInfoList::activateTimers``, seen intermittently in this project's GUI tests). So while a
window is open, automatic collection is off and a GUI-thread timer collects instead, generation by
generation with the interpreter's own thresholds. pyqtgraph's ``GarbageCollector`` does the same
but never hands collection back, which a process that also runs other code (tests, scripts) needs.

The objects alive when the first window opens (torch, diffusers, Qt bindings, a loaded model:
about 380,000) are frozen into the permanent generation for as long as a window is open: they
live as long as the process anyway, and leaving them out makes every collection about 0.2 s
cheaper, which the GUI thread would otherwise pay.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 1000


class GuiThreadGarbageCollector(QObject):
    """Owned by a window's controller: :meth:`start` when it opens, :meth:`stop` when it closes.

    Nested windows share the policy: collection goes back to automatic when the last one stops.
    """

    _active = 0  # windows currently holding automatic collection off

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._running = False

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        if GuiThreadGarbageCollector._active == 0:
            gc.disable()
            gc.freeze()
        GuiThreadGarbageCollector._active += 1
        self._timer.start()

    def stop(self) -> None:
        """Collect everything left (here, on the GUI thread) and restore automatic collection."""
        if not self._running:
            return
        self._running = False
        self._timer.stop()
        GuiThreadGarbageCollector._active -= 1
        gc.collect()
        if GuiThreadGarbageCollector._active == 0:
            gc.unfreeze()
            gc.enable()

    @Slot()
    def collect_due(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        thresholds, counts = gc.get_threshold(), gc.get_count()
        for generation in range(3):
            if counts[generation] <= thresholds[generation]:
                break
            gc.collect(generation)
