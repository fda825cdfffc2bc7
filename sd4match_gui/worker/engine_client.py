"""The GUI-side handle of the worker threads: submit, cancel, shut down.

Create one per window. Connect to ``client.worker``'s signals (they arrive on the GUI thread);
call :meth:`submit` with each new request. Results whose id is not :attr:`latest_id` are stale and
must be dropped by the receiver.

Two threads answer: the engine thread (``engine_worker.py``: extraction, prefetch, propagation,
tuning, exports) and the query lane (``query_worker.py``: requests whose features are all prepared,
and hover previews), so a click on the open pair is answered while the engine computes something
else. The lane's signals are forwarded into ``client.worker``'s, so receivers see one worker.
Connect them to slots of GUI objects: a plain function has the worker as its context, so an answer
of the lane would wait for the engine thread's event loop.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QThread, Signal

from .engine_worker import EngineWorker, MatcherFactory, default_matcher
from .mailbox import LatestMailbox
from .messages import ComputeRequest, EngineConfig, HeatmapsRequest, PrefetchRequest, PreviewRequest, TrainingRequest
from .propagation_job import PropagationRequest
from .query_worker import QueryWorker
from .routing import ComputeRouting

FORWARDED = ("started", "progress", "result", "failed", "finished", "preview")  # lane signal -> worker signal


class EngineClient(QObject):
    """Owns the engine thread, the query lane, and their workers."""

    _wake = Signal()
    _wake_lane = Signal()
    _wake_preview = Signal()
    _wake_prefetch = Signal()
    _check_weights = Signal(object)
    _train = Signal(object)
    _heatmaps = Signal(object)
    _propagate = Signal(object)

    def __init__(self, make_matcher: MatcherFactory = default_matcher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.routing = ComputeRouting()
        self._previews: LatestMailbox[PreviewRequest] = LatestMailbox()
        self._prefetches: LatestMailbox[PrefetchRequest] = LatestMailbox()
        self._thread = QThread()
        self._thread.setObjectName("sd4match-engine")
        self.worker = EngineWorker(make_matcher, self.routing, self._prefetches)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.lower_priority)  # runs on the new thread, before any work
        self._thread.finished.connect(self.worker.deleteLater)
        self._wake.connect(self.worker.drain)
        self._wake_prefetch.connect(self.worker.drain_prefetch)
        self._check_weights.connect(self.worker.check_weights)
        self._train.connect(self.worker.train)
        self._heatmaps.connect(self.worker.heatmaps)
        self._propagate.connect(self.worker.propagate)

        self._lane_thread = QThread()
        self._lane_thread.setObjectName("sd4match-query")
        self.lane = QueryWorker(self.routing, self._previews, lambda: self.worker.cancel_upto, self._to_engine)
        self.lane.moveToThread(self._lane_thread)
        self._lane_thread.finished.connect(self.lane.deleteLater)
        self._wake_lane.connect(self.lane.drain)
        self._wake_preview.connect(self.lane.drain_preview)
        for name in FORWARDED:  # emitted on the lane thread, then queued to each receiver as usual
            getattr(self.lane, name).connect(getattr(self.worker, name), Qt.ConnectionType.DirectConnection)
        self._last_id = 0
        self._thread.start()
        self._lane_thread.start()

    @property
    def latest_id(self) -> int:
        """Id of the newest submitted request: the only one whose answers are current."""
        return self._last_id

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def submit(self, request: ComputeRequest) -> bool:
        """Replace any unread request with ``request`` and wake the thread that answers it: the lane
        if every variant is prepared, else the engine thread (a prefetch there gives way). True when
        the lane answers it: within milliseconds, whatever the engine thread is doing."""
        if self.routing.submit(request):
            self._to_engine()
            return False
        self._wake_lane.emit()
        return True

    def preview(self, request: PreviewRequest) -> None:
        """Replace any unread hover preview with ``request``; the lane answers it as ``worker.preview``
        (from prepared pairs only: a hover never stops the engine's work)."""
        self._previews.put(request)
        self._wake_preview.emit()

    def prefetch(self, request: PrefetchRequest) -> None:
        """Replace the prefetch plan with ``request``: the worker computes it when idle, giving way
        to every other call of this client; ``worker.prefetched`` reports each finished item."""
        self._prefetches.put(request)
        self._wake_prefetch.emit()

    def check_weights(self, config: EngineConfig) -> None:
        """Ask (off the GUI thread) whether the SD weights exist; the answer comes as ``worker.weights``."""
        self.worker.foreground.posted()
        self._check_weights.emit(config)

    def train(self, request: TrainingRequest) -> None:
        """Tune a prompt on the engine thread; reports arrive as ``worker.training_*`` signals."""
        self.worker.stop_training.clear()  # here, not when the run starts: a cancel before it starts counts
        self.worker.foreground.posted()
        self._train.emit(request)

    def heatmaps(self, request: HeatmapsRequest) -> None:
        """Predict and map an export's points on the engine thread; reports arrive as
        ``worker.heatmaps_stage`` and ``worker.heatmaps_done``."""
        self.worker.stop_heatmaps.clear()
        self.worker.foreground.posted()
        self._heatmaps.emit(request)

    def propagate(self, request: PropagationRequest) -> None:
        """Predict a collection's keypoints on one image; the answer comes as ``worker.propagated``."""
        self.worker.foreground.posted()
        self._propagate.emit(request)

    def stop_heatmaps(self) -> None:
        """Stop the heatmap computation of an export at its next stage."""
        self.worker.stop_heatmaps.set()

    def stop_training(self) -> None:
        """Stop the tuning run at its next step; it saves its state first (resumable)."""
        self.worker.stop_training.set()

    def cancel(self) -> None:
        """Drop the unread request and stop the running one at its next stage boundary."""
        self.routing.clear()
        self.worker.cancel_upto = self._last_id

    def shutdown(self) -> None:
        """Stop both threads; a forward pass in flight finishes first (it cannot be interrupted)."""
        self.cancel()
        self._prefetches.clear()
        self.worker.foreground.posted()  # no slot follows: a running prefetch stops, none starts
        self.stop_training()
        self.stop_heatmaps()
        for thread in (self._lane_thread, self._thread):
            thread.quit()
            thread.wait()

    def _to_engine(self) -> None:
        """Wake the engine thread for the request in its mailbox (from the GUI or the lane thread)."""
        self.worker.foreground.posted()
        self._wake.emit()
