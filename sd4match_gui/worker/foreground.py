"""How many pieces of the user's work are posted to the engine thread and not yet started.

The prefetch runs in the engine thread's idle time and stops within one model layer once the user
asks for anything there. "Anything" can be several slots at once: a weights check, then the
request for the pair just opened, both queued behind the slot running now. A flag that each slot
cleared as it started told the prefetch that nobody waited as soon as the first of them began: a
prefetch woken between them then ran its whole plan (minutes at E = 8 on a CPU) ahead of the
request still queued. A count does not lose the others.
"""

from __future__ import annotations

import threading


class Foreground:
    """Thread-safe count of the user's slots posted to the engine thread and not yet started."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def posted(self) -> None:
        """Before posting a slot of the user's work (any thread). Also at shutdown, with no slot to
        follow: the running prefetch stops at its next layer and none starts again."""
        with self._lock:
            self._count += 1

    def started(self) -> None:
        """As such a slot starts running on the engine thread."""
        with self._lock:
            self._count = max(0, self._count - 1)

    @property
    def waiting(self) -> bool:
        """Some of the user's work is posted and has not started: the prefetch gives way."""
        return self._count > 0
