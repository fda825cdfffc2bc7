"""The query lane: a second worker thread that answers clicks and hovers on prepared pairs.

A click on a pair whose features are prepared costs milliseconds of maths; on the engine thread it
would wait for the model layer in progress (up to a second at 768 px) whenever a prefetch, a
collection's propagation, an export's heatmaps or a tuning run is computing. The lane answers such
requests (``routing.py`` sends it those whose every variant is prepared) and every hover preview
from the shared :class:`PreparedStore`, beside the engine thread and without stopping it. It never
touches the Matcher or its caches; it runs its maths on one torch thread, like the engine thread's
per-click maths, so its answers are the engine's bit for bit.

Its signals mirror the engine worker's (started, progress, result, failed, finished, preview) and
the client forwards them into those, so the window hears one worker.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from .answers import failure, preview_answer, variant_result
from .job_progress import JobProgress, StepTimes, sentence
from .mailbox import LatestMailbox
from .messages import Failure, PreviewRequest, ProgressReport
from .prepared_store import prepared_key
from .routing import ComputeRouting
from .torch_threads import use_one_thread


class QueryWorker(QObject):
    """Answers prepared requests and previews; lives on the query thread.

    Args:
        routing: the lane's mailbox and the store (shared with the engine worker).
        previews: hover previews (the newest one is answered).
        cancelled_upto: the id up to which requests were cancelled (the engine worker's).
        to_engine: wakes the engine for a request whose pair was dropped meanwhile (thread-safe).
    """

    started = Signal(int)
    progress = Signal(object)
    result = Signal(object)
    failed = Signal(object)
    finished = Signal(int)
    preview = Signal(object)

    def __init__(
        self,
        routing: ComputeRouting,
        previews: LatestMailbox[PreviewRequest],
        cancelled_upto: Callable[[], int],
        to_engine: Callable[[], None],
    ) -> None:
        super().__init__()
        self._routing = routing
        self._previews = previews
        self._cancelled_upto = cancelled_upto
        self._to_engine = to_engine
        self._one_thread = False

    @Slot()
    def drain(self) -> None:
        """Answer the newest prepared request, if any; hand it to the engine if a pair is gone."""
        request = self._routing.lane.take()
        if request is None:
            return
        pairs = self._routing.store.pairs_for(request)
        if pairs is None:
            if self._routing.to_engine(request):
                self._to_engine()
            return
        self._pin_threads()
        self._routing.started()
        self.started.emit(request.request_id)
        job = JobProgress([v.name for v in request.variants], StepTimes())
        try:
            for index, (variant, pair) in enumerate(zip(request.variants, pairs, strict=True)):
                if request.request_id <= self._cancelled_upto():
                    self.failed.emit(Failure(request.request_id, None, "cancelled", cancelled=True))
                    return
                try:
                    self.result.emit(variant_result(request, variant, pair))
                except Exception as exc:  # a bug must not kill the thread; the user sees one line
                    self.failed.emit(failure(request.request_id, variant.name, exc))
                where = job.finish_variant(index)
                report = ProgressReport(request.request_id, variant.name, "done", where.fraction, sentence(where))
                self.progress.emit(report)
        finally:
            self.finished.emit(request.request_id)

    @Slot()
    def drain_preview(self) -> None:
        """Answer the newest hover preview from the prepared pairs (a few milliseconds)."""
        request = self._previews.take()
        if request is None:
            return
        store, source, target = self._routing.store, request.source_digest, request.target_digest
        found = [
            (variant, store.get(prepared_key(source, target, variant), request.engine)) for variant in request.variants
        ]
        pairs = [(variant, pair) for variant, pair in found if pair is not None]
        if pairs:
            self._pin_threads()
        self.preview.emit(preview_answer(request, pairs))

    def _pin_threads(self) -> None:
        # Once, and only with a pair in hand: the engine has fixed its own thread count by then.
        if not self._one_thread:
            use_one_thread()
            self._one_thread = True
