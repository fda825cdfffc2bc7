"""Slow, Qt-free reads off the GUI thread: a dataset split's annotations, a session that names one.

``engine.datasets.open_dataset`` reads every annotation up front (seconds for the 12,234 JSON
files of SPair-71k test). It runs on Qt's global thread pool, not on the engine worker: the worker
owns the model and answers clicks one request at a time, so a read queued there would wait for a
feature extraction in flight and would hold back every click until it finished, while reading
needs no model at all. Here the engine keeps answering clicks on the pair still open.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from engine.errors import EngineError


class BackgroundLoader(QObject):
    """Runs one read at a time on the thread pool and hands its result to the GUI thread.

    A new :meth:`start`, or :meth:`abandon`, drops the read in flight: it runs to its end (file
    reads cannot be interrupted) but its result is never delivered.

    Signals:
        running(str): the description of the read that started, or "" once none is pending.
    """

    running = Signal(str)
    _done = Signal(int, object, str)  # generation, result, error message; queued from the pool thread

    def __init__(self) -> None:
        super().__init__()
        self._generation = 0
        self._callbacks: tuple[Callable[[Any], None], Callable[[str], None]] | None = None
        self._done.connect(self._deliver)

    @property
    def busy(self) -> bool:
        """A read is pending (its result will be delivered)."""
        return self._callbacks is not None

    def start(
        self, description: str, read: Callable[[], Any], on_done: Callable[[Any], None], on_error: Callable[[str], None]
    ) -> None:
        """Run ``read()`` off the GUI thread; then ``on_done(result)`` or ``on_error(message)`` on it."""
        self._generation += 1
        generation = self._generation
        self._callbacks = (on_done, on_error)
        self.running.emit(description)
        QThreadPool.globalInstance().start(lambda: self._run(generation, read))

    def abandon(self) -> None:
        if self._callbacks is not None:
            self._generation += 1
            self._callbacks = None
            self.running.emit("")

    def _run(self, generation: int, read: Callable[[], Any]) -> None:
        """On a pool thread: every outcome becomes a message, never an exception out of the pool."""
        try:
            result = read()
        except (EngineError, OSError) as exc:
            self._done.emit(generation, None, str(exc))
        except Exception as exc:  # a bug must not pass silently; the user sees one line
            traceback.print_exc(file=sys.stderr)
            self._done.emit(generation, None, f"internal error ({type(exc).__name__}: {exc}); details on the console")
        else:
            self._done.emit(generation, result, "")

    @Slot(int, object, str)
    def _deliver(self, generation: int, result: Any, error: str) -> None:
        if generation != self._generation or self._callbacks is None:
            return  # abandoned
        (on_done, on_error), self._callbacks = self._callbacks, None
        self.running.emit("")
        if error:
            on_error(error)
        else:
            on_done(result)
