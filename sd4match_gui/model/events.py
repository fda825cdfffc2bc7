"""A Qt-free change event: the app model announces changes, controllers and views subscribe.

Why not Qt signals: the model must stay importable and testable without Qt (like ndv's and napari's
models, which use psygnal for the same reason). Why not psygnal: the dependency list is fixed by the
design card, and the app needs only synchronous, in-order delivery on the thread that emits, which
is the few lines below. Every emit happens on the GUI thread (the worker talks to the model through
Qt queued signals), so no locking is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks run in connection order by :meth:`emit`.

    A callback connected twice runs once. Disconnecting during an emit takes effect from the next
    emit. An exception in a callback propagates to the emitter: a model change must not half-fail
    silently.
    """

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Subscribe ``callback`` (usable as a decorator); returns it."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        """Unsubscribe ``callback``; a callback that is not connected is ignored."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in tuple(self._callbacks):  # a copy: callbacks may (dis)connect while we run
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)
