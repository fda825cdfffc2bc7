"""The engine worker: a QObject living on its own QThread that owns the Matcher and its caches.

All torch work runs here, one request at a time, so the model and the feature cache never race
and the window never waits. Requests arrive through a :class:`LatestMailbox`; a wake-up signal
makes the worker take the newest one (older ones were overwritten and are never computed).
Progress is reported for the whole request (``worker/job_progress.py``): one fraction over every
variant's steps, weighted by measured step times, with the time left.
Between variants, and at every engine stage, the worker gives up a request that was cancelled or
that a newer request no longer needs (the newer one then reuses whatever reached the cache).
Hover previews have a mailbox of their own and only query pairs that a computation prepared.
With E > 1 a computation also sends partial answers from the running ensemble means (marked k/E).
In idle time the worker computes the features of the pairs ahead (``worker/prefetch_job.py``);
anything the user asks (the client sets :attr:`EngineWorker.foreground` first) stops that within one
layer of the model, and the prefetch resumes once the user's work is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
    PreviewAnswer,
    PreviewRequest,
    ProgressReport,
    TrainingRequest,
    VariantPreview,
    VariantResult,
    WeightsStatus,
)
from .prefetch_job import PrefetchJob
from .propagation_job import PropagationRequest, propagate

if TYPE_CHECKING:  # torch loads with the first model, on the engine thread: the window shows without it
    from engine import Matcher
    from engine.prepared_pair import PartialPair, PreparedPair

MatcherFactory = Callable[[EngineConfig], "Matcher"]
PreparedKey = tuple[str, str, object, object]  # source digest, target digest, prompt, feature settings


def _prepared_key(source_digest: str, target_digest: str, variant: Variant) -> PreparedKey:
    return (source_digest, target_digest, variant.prompt, variant.settings)


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run the per-click maths on one thread.

    The matching tensors are tiny (N x C by C x h*w); split across OpenMP threads they spend their
    time at barriers, and when the GUI thread (or anything else) holds the other core a match
    takes 30-50 ms instead of under 1 ms. Extraction keeps every thread.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
        preview(PreviewAnswer): the answer of :meth:`drain_preview`.
        heatmaps_stage(str, float), heatmaps_done(HeatmapsOutcome): reports of :meth:`heatmaps`.
        weights(WeightsStatus): answer to :meth:`check_weights`.
        training_stage(str, float), training_step(StepReport), training_epoch(EpochReport):
            reports of a :meth:`train` run; training_done(TrainingOutcome) ends it.
        prefetched(Prefetched): a pair ahead has one more variant's features cached.

    Attributes:
        computations: requests taken so far (tests count them to prove coalescing).
        step_times: running estimates of how long each extraction step takes here (progress).
        stop_training: set (from any thread) to stop the running :meth:`train` between steps.
        stop_heatmaps: set (from any thread) to stop the running :meth:`heatmaps` between stages.
        foreground: set (by the client, before it posts) while a request of the user waits: a
            running prefetch stops at once; each slot of the user's work clears it when it starts.
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
        mailbox: LatestMailbox[ComputeRequest],
        previews: LatestMailbox[PreviewRequest],
        prefetches: LatestMailbox[PrefetchRequest] | None = None,
    ) -> None:
        super().__init__()
        self._make_matcher = make_matcher
        self._mailbox = mailbox
        self._previews = previews
        self._prefetches: LatestMailbox[PrefetchRequest] = prefetches or LatestMailbox()
        self._prefetch: PrefetchJob | None = None
        self.foreground = threading.Event()
        # Queued even though sender and receiver share the thread: the resume runs after every
        # slot of the user's work already posted.
        self._resume_prefetch.connect(self.drain_prefetch, Qt.ConnectionType.QueuedConnection)
        # The prepared variants the newest computation shows: previews query these and never
        # extract. Each computation drops the others, so only what is on screen is held.
        self._prepared: dict[PreparedKey, PreparedPair] = {}
        self._config: EngineConfig | None = None
        self._matcher: Matcher | None = None
        self.cancel_upto = 0  # requests with an id up to this were cancelled (an int store is atomic)
        self.computations = 0
        self.step_times = StepTimes()  # measured on this machine, kept across jobs for the time estimates
        self.stop_training = threading.Event()
        self.stop_heatmaps = threading.Event()

    @Slot()
    def drain(self) -> None:
        """Compute the newest request, if any (a wake-up can find the mailbox already emptied)."""
        with self._foreground_work():
            request = self._mailbox.take()
            if request is None:
                return
            self.computations += 1
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
        if job is None or job.done or self.foreground.is_set():
            return  # a slot of the user's work is queued: it resumes the prefetch when it ends
        if self._matcher is None or job.plan.engine != self._config:
            return  # for other models than those loaded: the user's next request decides which
        job.run(self._matcher, self.foreground.is_set, self.prefetched.emit)

    @Slot()
    def drain_preview(self) -> None:
        """Answer the newest hover preview from the prepared variants (a few milliseconds)."""
        with self._foreground_work():
            self._answer_preview()

    def _answer_preview(self) -> None:
        request = self._previews.take()
        if request is None:
            return
        point = np.array([request.point_xy], dtype=np.float64)
        answers = {}
        for variant in request.variants:
            pair = self._prepared.get(_prepared_key(request.source_digest, request.target_digest, variant))
            if pair is None:
                continue
            try:
                with single_threaded_torch():
                    matches = pair.match(point, request.localisation)
                    heatmap = np.ascontiguousarray(pair.score_maps(point)[0], dtype=np.float32)
            except EngineError:
                break  # e.g. a point just off the image: a preview has nothing to say
            xy = (float(matches.match_xy[0, 0]), float(matches.match_xy[0, 1]))
            answers[variant.name] = VariantPreview(xy, float(matches.confidence[0]), heatmap, pair.target.frame)
        self.preview.emit(PreviewAnswer(request.preview_id, answers))

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
        self.foreground.clear()
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
        shown = {_prepared_key(request.source.digest, request.target.digest, v) for v in request.variants}
        self._prepared = {key: pair for key, pair in self._prepared.items() if key in shown}
        for index, variant in enumerate(request.variants):
            if self._mailbox.peek() is not None:
                return  # superseded: the newer request redoes this variant from the cache, in milliseconds
            if request.request_id <= self.cancel_upto:
                self.failed.emit(Failure(request.request_id, None, "cancelled", cancelled=True))
                return
            try:
                self._compute_variant(matcher, request, index, job)
            except Cancelled:
                self.failed.emit(Failure(request.request_id, variant.name, "cancelled", cancelled=True))
                return
            except EngineError as exc:
                self.failed.emit(Failure(request.request_id, variant.name, str(exc)))
            except Exception as exc:  # a bug must not kill the thread; the user sees one line
                traceback.print_exc(file=sys.stderr)
                message = f"internal error ({type(exc).__name__}: {exc}); details on the console"
                self.failed.emit(Failure(request.request_id, variant.name, message))
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
        self._prepared[_prepared_key(request.source.digest, request.target.digest, variant)] = pair
        self._emit_answer(request, variant, pair)

    def _emit_answer(
        self, request: ComputeRequest, variant: Variant, pair: PreparedPair, ensemble: tuple[int, int] | None = None
    ) -> None:
        """Match the request's points on ``pair`` (and its heatmap point) and send the answer."""
        with single_threaded_torch():
            matches = pair.match(request.points_xy, request.localisation)
            heatmap = None
            if request.heatmap_row is not None:
                row = request.points_xy[request.heatmap_row : request.heatmap_row + 1]
                heatmap = np.ascontiguousarray(pair.score_maps(row)[0], dtype=np.float32)
        run = run_details(pair, request.localisation)
        answer = VariantResult(request.request_id, variant.name, run, matches, heatmap, pair.target.frame, ensemble)
        self.result.emit(answer)

    def _report(self, request: ComputeRequest, variant: Variant, stage: str, where: JobReport) -> None:
        """Emit where the job stands, under the id of the newest request this work serves: when a newer
        request needs this very extraction (a click meanwhile), the user is waiting for it."""
        pending = self._mailbox.peek()
        serves = pending is not None and pending.needs(request.source.digest, request.target.digest, variant)
        request_id = pending.request_id if serves else request.request_id
        self.progress.emit(ProgressReport(request_id, variant.name, stage, where.fraction, sentence(where)))

    def _abandoned(self, request: ComputeRequest, variant: Variant) -> bool:
        """Cancelled by the user, or replaced by a request that does not need this variant."""
        if request.request_id <= self.cancel_upto:
            return True
        pending = self._mailbox.peek()
        return pending is not None and not pending.needs(request.source.digest, request.target.digest, variant)

    def _matcher_for(self, config: EngineConfig) -> Matcher:
        same_models = self._config is not None and config == dataclasses.replace(
            self._config, cache_bytes=config.cache_bytes
        )
        if self._matcher is not None and same_models and self._matcher.disk_cache is not None:
            # Only the disk cache's bound changed: keep the loaded models and memory caches.
            self._matcher.disk_cache.max_bytes = config.cache_bytes
            self._matcher.disk_cache.evict()
            self._config = config
        if self._matcher is None or config != self._config:
            self._prepared.clear()  # they belong to the old matcher's models
            self._matcher = self._make_matcher(config)
            self._config = config
        return self._matcher
