"""The engine worker: a QObject living on its own QThread that owns the Matcher and its caches.

All torch work runs here, one request at a time, so the model and the feature cache never race
and the window never waits. Requests arrive through a :class:`LatestMailbox`; a wake-up signal
makes the worker take the newest one (older ones were overwritten and are never computed).
Progress is reported for the whole request (``worker/job_progress.py``): one fraction over every
variant's steps, weighted by measured step times, with the time left.
Between variants, and at every engine stage, the worker gives up a request that was cancelled or
that a newer request no longer needs (the newer one then reuses whatever reached the cache).
A request whose every variant is prepared never comes here: the query lane (``query_worker.py``)
answers it, and every hover preview, from the pairs this worker prepared (``prepared_store.py``),
beside whatever this thread computes. This thread runs at a lower CPU priority (``torch_threads.py``).
With E > 1 a computation also sends partial answers from the running ensemble means (marked k/E).
In idle time the worker computes the features of the pairs ahead (``worker/prefetch_job.py``);
anything the user asks of this thread (the client counts it in :attr:`EngineWorker.foreground` first)
stops that within one layer of the model, and the prefetch resumes once all of the user's work is done.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine import load_image
from engine.errors import Cancelled, EngineError
from engine.export.from_matches import run_details
from engine.progress import Progress
from engine.variants import Variant, require_stable_diffusion

from .answers import failure, variant_result
from .foreground import Foreground
from .job_progress import JobProgress, JobReport, StepTimes, sentence, variant_steps
from .mailbox import LatestMailbox
from .messages import (
    ComputeRequest,
    EngineConfig,
    Failure,
    HeatmapsOutcome,
    HeatmapsRequest,
    PairHeatmaps,
    PrefetchRequest,
    ProgressReport,
    TrainingRequest,
    WeightsStatus,
)
from .prefetch_job import PrefetchJob
from .prepared_store import prepared_key
from .propagation_job import PropagationRequest, propagate
from .routing import ComputeRouting
from .torch_threads import fix_engine_threads, lower_priority, single_threaded_torch

if TYPE_CHECKING:  # torch loads with the first model, on the engine thread: the window shows without it
    from engine import Matcher
    from engine.prepared_pair import PartialPair, PreparedPair

MatcherFactory = Callable[[EngineConfig], "Matcher"]


def default_matcher(config: EngineConfig) -> Matcher:
    from engine import Matcher, resolve_runtime
    from engine.disk_cache import DiskCache

    disk = DiskCache(max_bytes=config.cache_bytes)
    return Matcher(config.sources, runtime=resolve_runtime(config.device, config.dtype), disk_cache=disk)


class EngineWorker(QObject):
    """Computes :class:`ComputeRequest` s; lives on the engine thread.

    Signals (all delivered queued to the GUI thread):
        started(int): a request was taken from the mailbox.
        progress(ProgressReport), result(VariantResult), failed(Failure): per variant.
        finished(int): the request is done (or abandoned).
        preview(PreviewAnswer): a hover's answer (the query lane's; the client forwards it here).
        heatmaps_stage(str, float), heatmaps_done(HeatmapsOutcome): reports of :meth:`heatmaps`.
        weights(WeightsStatus): answer to :meth:`check_weights`.
        training_stage(str, float), training_step(StepReport), training_epoch(EpochReport):
            reports of a :meth:`train` run; training_done(TrainingOutcome) ends it.
        prefetched(Prefetched): a pair ahead has one more variant's features cached.

    The client forwards the query lane's started/progress/result/failed/finished/preview into these
    signals, so receivers see one worker; the request ids keep the two threads' answers in order.

    Attributes:
        computations: requests started so far here and on the lane (tests count them to prove coalescing).
        step_times: running estimates of how long each extraction step takes here (progress).
        stop_training: set (from any thread) to stop the running :meth:`train` between steps.
        stop_heatmaps: set (from any thread) to stop the running :meth:`heatmaps` between stages.
        foreground: the user's slots posted here and not yet started (``foreground.py``), counted
            by the client before it posts each one: while any waits, a running prefetch stops at
            its next layer and none starts.
    """

    started = Signal(int)
    progress = Signal(object)
    result = Signal(object)
    failed = Signal(object)
    finished = Signal(int)
    preview = Signal(object)
    heatmaps_stage = Signal(str, float)
    heatmaps_done = Signal(object)
    weights = Signal(object)
    training_stage = Signal(str, float)
    training_step = Signal(object)
    training_epoch = Signal(object)
    training_done = Signal(object)
    propagated = Signal(object)  # PropagationResult: the answer of :meth:`propagate`
    prefetched = Signal(object)
    _resume_prefetch = Signal()

    def __init__(
        self,
        make_matcher: MatcherFactory,
        routing: ComputeRouting | None = None,
        prefetches: LatestMailbox[PrefetchRequest] | None = None,
    ) -> None:
        super().__init__()
        self._make_matcher = make_matcher
        self._routing = routing or ComputeRouting()
        self._mailbox = self._routing.engine
        self._prepared = self._routing.store  # what the newest computation shows; the lane queries it
        self._prefetches: LatestMailbox[PrefetchRequest] = prefetches or LatestMailbox()
        self._prefetch: PrefetchJob | None = None
        self.foreground = Foreground()
        # Queued even though sender and receiver share the thread: the resume runs after every
        # slot of the user's work already posted.
        self._resume_prefetch.connect(self.drain_prefetch, Qt.ConnectionType.QueuedConnection)
        self._config: EngineConfig | None = None
        self._matcher: Matcher | None = None
        self.cancel_upto = 0  # requests with an id up to this were cancelled (an int store is atomic)
        self.step_times = StepTimes()  # measured on this machine, kept across jobs for the time estimates
        self.stop_training = threading.Event()
        self.stop_heatmaps = threading.Event()

    @property
    def computations(self) -> int:
        return self._routing.computations

    @Slot()
    def lower_priority(self) -> None:
        """Run at a lower CPU priority than the window and the lane (connected to the thread's start,
        before any torch work, so that the OpenMP workers this thread starts inherit it)."""
        lower_priority()

    @Slot()
    def drain(self) -> None:
        """Compute the newest request, if any (a wake-up can find the mailbox already emptied)."""
        with self._foreground_work():
            request = self._mailbox.take()
            if request is None:
                return
            self._routing.started()
            self.started.emit(request.request_id)
            try:
                self._compute(request)
            finally:
                self.finished.emit(request.request_id)

    @Slot()
    def drain_prefetch(self) -> None:
        """Take the newest prefetch plan, if any, and work on the current one while nobody waits."""
        plan = self._prefetches.take()
        if plan is not None:
            self._prefetch = PrefetchJob(plan)
        job = self._prefetch
        if job is None or job.done or self.foreground.waiting:
            return  # a slot of the user's work is queued: it resumes the prefetch when it ends
        if self._matcher is None or job.plan.engine != self._config:
            return  # for other models than those loaded: the user's next request decides which
        job.run(self._matcher, self._prefetch_gives_way, self.prefetched.emit)

    def _prefetch_gives_way(self) -> bool:
        """The user's work waits, or a newer plan came (a Cancel's empty one, the plan of another
        pair; its wake-up follows and takes it)."""
        return self.foreground.waiting or self._prefetches.peek() is not None

    @Slot(object)
    def check_weights(self, config: EngineConfig) -> None:
        with self._foreground_work():
            try:
                self.weights.emit(WeightsStatus(self._matcher_for(config).sd_unavailable_reason()))
            except EngineError as exc:
                self.weights.emit(WeightsStatus(str(exc)))

    @Slot(object)
    def train(self, request: TrainingRequest) -> None:
        """Tune a prompt; clicks meanwhile wait in the mailbox (the newest is computed afterwards)."""
        from .training_job import tune  # imports accelerate: only once someone tunes

        with self._foreground_work():
            progress = Progress(self.training_stage.emit, self.stop_training.is_set)
            outcome = tune(
                lambda: self._matcher_for(request.engine),
                request,
                self.training_step.emit,
                self.training_epoch.emit,
                progress,
            )
            self.training_done.emit(outcome)

    @Slot(object)
    def propagate(self, request: PropagationRequest) -> None:
        """Predict a collection's keypoints on one image (worker/propagation_job.py); prefetch waits."""
        with self._foreground_work():
            self.propagated.emit(propagate(lambda: self._matcher_for(request.engine), request))

    @Slot(object)
    def heatmaps(self, request: HeatmapsRequest) -> None:
        """Predict and map every point of an export; clicks meanwhile wait in the mailbox."""
        with self._foreground_work():
            try:
                outcome = HeatmapsOutcome(tuple(self._pair_heatmaps(request)))
            except Cancelled:
                outcome = HeatmapsOutcome(cancelled=True)
            except EngineError as exc:
                outcome = HeatmapsOutcome(error=str(exc))
            except Exception as exc:  # a bug must not kill the thread; the user sees one line
                traceback.print_exc(file=sys.stderr)
                outcome = HeatmapsOutcome(error=f"internal error ({type(exc).__name__}: {exc}); details on the console")
            self.heatmaps_done.emit(outcome)

    # ---- internals ----

    @contextlib.contextmanager
    def _foreground_work(self) -> Iterator[None]:
        """Around each slot of the user's work: it is no longer waiting once it runs, and the
        prefetch resumes after it (queued behind whatever else the user has asked meanwhile)."""
        self.foreground.started()
        try:
            yield
        finally:
            self._resume_prefetch.emit()

    def _pair_heatmaps(self, request: HeatmapsRequest) -> Iterator[PairHeatmaps]:
        matcher = self._matcher_for(request.engine)
        if request.refuse_fallback:
            require_stable_diffusion(list(request.variants), matcher)
        steps = len(request.pairs) * len(request.variants)
        for pair_index, points in enumerate(request.pairs):
            images = None  # decoded once per pair, for all its variants
            for variant_index, variant in enumerate(request.variants):
                step = pair_index * len(request.variants) + variant_index
                label = f"{step + 1}/{steps} {points.pair_id} · {variant.name}: "
                reached = [0.0]  # stages restart at 0 (source, then target): the bar only moves on

                def report(stage: str, fraction: float, label: str = label, step: int = step, reached=reached) -> None:
                    reached[0] = max(reached[0], fraction)
                    self.heatmaps_stage.emit(label + stage, (step + reached[0]) / steps)

                progress = Progress(report, self.stop_heatmaps.is_set)
                if images is None:
                    progress("images")
                    images = load_image(points.source), load_image(points.target)
                pair = matcher.prepare(*images, variant.prompt, variant.settings, progress)
                with single_threaded_torch():
                    matches = pair.match(points.points_xy, request.localisation)
                    maps = np.ascontiguousarray(pair.score_maps(points.points_xy), dtype=np.float32)
                run = run_details(pair, request.localisation)
                yield PairHeatmaps(points.pair_id, variant.name, run, points.point_ids, matches, maps)
        Progress(cancel_requested=self.stop_heatmaps.is_set)("done")  # a cancel during the last step counts

    def _compute(self, request: ComputeRequest) -> None:
        job = JobProgress([v.name for v in request.variants], self.step_times)
        try:
            matcher = self._matcher_for(request.engine)
        except EngineError as exc:
            self.failed.emit(Failure(request.request_id, None, str(exc)))
            return
        source, target = request.source.digest, request.target.digest
        self._prepared.keep_only({prepared_key(source, target, v) for v in request.variants})
        for index, variant in enumerate(request.variants):
            if self._superseded(request):
                return  # the newer request redoes this variant from the cache (or the lane answers it)
            if request.request_id <= self.cancel_upto:
                self.failed.emit(Failure(request.request_id, None, "cancelled", cancelled=True))
                return
            try:
                self._compute_variant(matcher, request, index, job)
            except Cancelled:
                self.failed.emit(Failure(request.request_id, variant.name, "cancelled", cancelled=True))
                return
            except Exception as exc:  # a bug must not kill the thread; the user sees one line
                self.failed.emit(failure(request.request_id, variant.name, exc))
            self._report(request, variant, "done", job.finish_variant(index))

    def _compute_variant(self, matcher: Matcher, request: ComputeRequest, index: int, job: JobProgress) -> None:
        variant = request.variants[index]

        def report(stage: str, fraction: float) -> None:
            self._report(request, variant, stage, job.on_stage(index, stage))

        progress = Progress(report, lambda: self._abandoned(request, variant))
        if request.refuse_fallback:
            require_stable_diffusion([variant], matcher)
        if matcher.resolve_backend(variant.settings.backend) == "sd":
            backend = matcher.stable_diffusion(progress)  # loads the model once, reporting it
            job.plan(index, variant_steps(variant.settings, backend.max_batch))

        def partial(running: PartialPair) -> None:
            # The progressive ensemble: show the pair as its running means stand, to the request now
            # waiting for this extraction (a click meanwhile: the newer one, with its own points).
            pending = self._mailbox.peek()
            serves = pending is not None and pending.needs(request.source.digest, request.target.digest, variant)
            asking = pending if serves else request
            assert asking is not None
            named = next(v for v in asking.variants if (v.prompt, v.settings) == (variant.prompt, variant.settings))
            ensemble = (running.done, running.passes)
            try:
                self._emit_answer(asking, named, running.pair, ensemble)
            except EngineError:
                return  # e.g. a point off the image: the final answer reports it, the extraction goes on
            self._report(request, variant, "partial", job.showing(index, *ensemble))

        pair = matcher.prepare(request.source, request.target, variant.prompt, variant.settings, progress, partial)
        self._prepared.put(prepared_key(request.source.digest, request.target.digest, variant), pair)
        self._emit_answer(request, variant, pair)

    def _emit_answer(
        self, request: ComputeRequest, variant: Variant, pair: PreparedPair, ensemble: tuple[int, int] | None = None
    ) -> None:
        """Match the request's points on ``pair`` (and its heatmap point) and send the answer."""
        with single_threaded_torch():
            answer = variant_result(request, variant, pair, ensemble)
        self.result.emit(answer)

    def _report(self, request: ComputeRequest, variant: Variant, stage: str, where: JobReport) -> None:
        """Emit where the job stands, under the id of the newest request this work serves: when a newer
        request needs this very extraction (a click meanwhile), the user is waiting for it."""
        pending = self._mailbox.peek()
        serves = pending is not None and pending.needs(request.source.digest, request.target.digest, variant)
        request_id = pending.request_id if serves else request.request_id
        self.progress.emit(ProgressReport(request_id, variant.name, stage, where.fraction, sentence(where)))

    def _superseded(self, request: ComputeRequest) -> bool:
        """A newer request was submitted (waiting here, or answered on the lane)."""
        newest = self._routing.newest
        return newest is not None and newest.request_id > request.request_id

    def _abandoned(self, request: ComputeRequest, variant: Variant) -> bool:
        """Cancelled by the user, or replaced by a request that does not need this variant."""
        if request.request_id <= self.cancel_upto:
            return True
        newest = self._routing.newest
        return self._superseded(request) and not newest.needs(request.source.digest, request.target.digest, variant)

    def _matcher_for(self, config: EngineConfig) -> Matcher:
        same_models = self._config is not None and self._config.same_models(config)
        if self._matcher is not None and same_models and self._matcher.disk_cache is not None:
            # Only the disk cache's bound changed: keep the loaded models and memory caches.
            self._matcher.disk_cache.max_bytes = config.cache_bytes
            self._matcher.disk_cache.evict()
            self._config = config
        if self._matcher is None or config != self._config:
            if self._matcher is None:
                fix_engine_threads()  # torch's default, whatever another thread left (torch_threads.py)
            self._matcher = self._make_matcher(config)
            self._prepared.reset(config)  # the old matcher's pairs go; the lane answers from these models only
            self._config = config
        return self._matcher
