"""Which thread answers a :class:`ComputeRequest`: the query lane or the engine thread.

A request whose every variant is prepared (``prepared_store.py``) needs no model: the lane answers
it in milliseconds beside whatever the engine thread is doing. Any other request waits in the
engine's mailbox. Only the newest request is ever computed: routing one empties the other mailbox.
"""

from __future__ import annotations

import threading

from .mailbox import LatestMailbox
from .messages import ComputeRequest
from .prepared_store import PreparedStore


class ComputeRouting:
    """The two mailboxes, the shared store, and the newest request (either route).

    Attributes:
        store: the prepared pairs (written by the engine thread, read by the lane).
        engine, lane: one-slot mailboxes of the two threads.
        computations: requests started so far on either thread (tests count them).
    """

    def __init__(self, store: PreparedStore | None = None) -> None:
        self.store = store or PreparedStore()
        self.engine: LatestMailbox[ComputeRequest] = LatestMailbox()
        self.lane: LatestMailbox[ComputeRequest] = LatestMailbox()
        self.computations = 0
        self._newest: ComputeRequest | None = None
        self._lock = threading.Lock()

    @property
    def newest(self) -> ComputeRequest | None:
        """The request submitted last: any older one is superseded."""
        return self._newest

    def submit(self, request: ComputeRequest) -> bool:
        """Put ``request`` where it is answered; True if that is the engine thread."""
        with self._lock:
            self._newest = request
            to_engine = self.store.pairs_for(request) is None
            (self.engine if to_engine else self.lane).put(request)
            (self.lane if to_engine else self.engine).clear()
            return to_engine

    def to_engine(self, request: ComputeRequest) -> bool:
        """The lane found a pair of ``request`` dropped meanwhile (the engine moved on): the engine
        takes it, unless a newer request came. True if it did."""
        with self._lock:
            if self._newest is not request:
                return False
            self.engine.put(request)
            return True

    def started(self) -> None:
        with self._lock:
            self.computations += 1

    def clear(self) -> None:
        with self._lock:
            self.engine.clear()
            self.lane.clear()
