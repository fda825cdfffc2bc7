"""A one-slot mailbox: a new item replaces the unread one, so only the newest request is computed.

Queued Qt signals alone do not coalesce (every stale click would be computed in turn); the GUI
puts each request here and then wakes the worker, which takes whatever is newest.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Thread-safe single slot."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._lock = threading.Lock()

    def put(self, item: T) -> None:
        with self._lock:
            self._item = item

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item

    def peek(self) -> T | None:
        with self._lock:
            return self._item

    def clear(self) -> None:
        self.take()
