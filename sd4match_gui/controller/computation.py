"""From session state to engine requests, and from engine answers back to the session.

Every state change calls :meth:`ComputationController.request`, which snapshots the open pair's
points and the active variants into a :class:`ComputeRequest` with a fresh id. Answers are applied
only if they answer the newest request: anything older is stale (the points or settings it was
computed for have changed since) and is dropped, so a stale result is never shown.

In comparison mode without the Stable Diffusion weights, variants that need them are not sent at
all (the engine would only refuse them): they are marked failed at once with
:data:`NEEDS_WEIGHTS`, so no view waits for an answer that will not come.

A request asks only for the points that need it: when a variant's settings, images and engine are
those of its latest applied answer, points already holding that run's prediction are left out (the
selected point always goes, for its heatmap). A click thus matches one point, not all of them. If
an answer comes from another run than assumed (say, weights that appeared), every point is asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine import LoadedImage
from engine.frames import GridFrame
from engine.variants import Variant

from ..model.correspondence import Correspondence, PredictionRecord
from ..model.session import Session
from ..worker.engine_client import EngineClient
from ..worker.messages import ComputeRequest, EngineConfig, Failure, ProgressReport, VariantResult

NEEDS_WEIGHTS = "needs SD weights"
WORKING = "computing"  # a view's state while its variant is computed (the status bar says the step)


@dataclass(frozen=True)
class Heatmap:
    """The score map of one point under one variant (``h x w`` cosine scores on ``frame``'s grid)."""

    pair_id: str
    point_id: int
    scores: np.ndarray
    frame: GridFrame


@dataclass(frozen=True)
class VariantState:
    """What a variant's view should say: working (with a stage), done, or failed."""

    text: str
    fraction: float = 0.0
    failed: bool = False


class ComputationController(QObject):
    """Submits requests and applies their answers.

    Signals:
        updated(): predictions, heatmaps or variant states changed (redraw).
        progress(ProgressReport): a stage of the newest request (status bar).
        busy(bool): the newest request started / finished.
        error(str): a variant of the newest request failed (shown to the user).
        errors_cleared(): every variant that failed has since answered (or a new pair opened):
            the error shown is moot.

    Attributes:
        variant_runs: variant name -> run id of its latest applied predictions.
        heatmaps: variant name -> heatmap of the selected point.
        states: variant name -> what its view says.
        applied: number of answers applied (stale ones excluded), for tests and the benchmark.
        dropped: number of stale answers dropped.
        finished_id: id of the last request the worker finished (or abandoned).
        sd_missing: why the Stable Diffusion weights cannot be loaded, None while they can (or
            before the engine has said); set by the settings controller.
    """

    updated = Signal()
    progress = Signal(object)
    busy = Signal(bool)
    error = Signal(str)
    errors_cleared = Signal()

    def __init__(
        self,
        client: EngineClient,
        session: Callable[[], Session],
        images: Callable[[], tuple[LoadedImage, LoadedImage] | None],
        config: Callable[[], EngineConfig],
    ) -> None:
        super().__init__()
        self._client = client
        self._session = session
        self._images = images
        self._config = config
        self.variant_runs: dict[str, str] = {}
        self.heatmaps: dict[str, Heatmap] = {}
        self.states: dict[str, VariantState] = {}
        self.applied = 0
        self.dropped = 0
        self.finished_id = 0
        self.sd_missing: str | None = None
        self._point_ids: list[int] = []
        self._heatmap_point: int | None = None
        self._primary = ""
        self._pair_id = ""
        # variant name -> (images, localisation, engine, comparison mode) and the variant, as asked
        # by the newest request and as answered by the latest applied result.
        self._asked: dict[str, tuple[object, Variant]] = {}
        self._answered: dict[str, tuple[object, Variant]] = {}
        self._assumed_runs: dict[str, str] = {}
        self._errors: set[str] = set()  # variants ("" for the whole request) whose failure is shown
        self._partial: set[str] = set()  # variants whose drawn predictions are running ensemble means
        worker = client.worker
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failure)
        worker.progress.connect(self._on_progress)
        worker.started.connect(self._on_started)
        worker.finished.connect(self._on_finished)

    def request(self) -> int | None:
        """Ask for predictions of every point of the open pair; returns the request id."""
        session, images = self._session(), self._images()
        if session.pair is None or images is None:
            return None
        variants = session.settings.active_variants()
        unrunnable = {v.name for v in self.needing_weights(variants)} if session.settings.compare.active else set()
        points = self._points_to_ask(session, variants, images)
        self._point_ids = [p.id for p in points]
        self._heatmap_point = session.selected if session.selected in self._point_ids else None
        self._primary = variants[0].name
        self._pair_id = session.pair.pair_id
        request = ComputeRequest(
            request_id=self._client.next_id(),
            source=images[0],
            target=images[1],
            variants=tuple(v for v in variants if v.name not in unrunnable),
            localisation=session.settings.localisation,
            points_xy=np.array([p.src_xy for p in points], dtype=np.float64).reshape(-1, 2),
            heatmap_row=None if self._heatmap_point is None else self._point_ids.index(self._heatmap_point),
            engine=self._config(),
            refuse_fallback=session.settings.compare.active,
        )
        requested = {v.name for v in variants}
        for name, state in self.states.items():  # work for a variant no longer shown will not come
            if name not in requested and state.text != "done" and not state.failed:
                self.states[name] = VariantState("cancelled", failed=True)
        for variant in variants:
            if variant.name in unrunnable:
                self.states[variant.name] = VariantState(NEEDS_WEIGHTS, failed=True)
                self.heatmaps.pop(variant.name, None)  # a map from before the weights went must not stay
            elif variant.name not in self.states or self.states[variant.name].failed:
                self.states[variant.name] = VariantState("waiting")
        self._client.submit(request)  # even with no variant left: it ends the previous request's answers
        return request.request_id

    def is_stale(self, variant: str) -> bool:
        """Whether the results drawn for ``variant`` were computed for other settings, images or
        engine than those now asked (a recompute running, or cancelled): they are shown as stale."""
        answered = self._answered.get(variant)
        return answered is not None and answered != self._asked.get(variant)

    def forget_errors(self) -> None:
        """A new pair: errors of the previous one no longer apply."""
        if self._errors:
            self._errors.clear()
            self.errors_cleared.emit()

    def needing_weights(self, variants: list[Variant]) -> list[Variant]:
        """Those of ``variants`` that cannot run now because the Stable Diffusion weights are missing."""
        if self.sd_missing is None:
            return []
        return [v for v in variants if v.settings.backend != "sift"]

    def _points_to_ask(
        self, session: Session, variants: list[Variant], images: tuple[LoadedImage, LoadedImage]
    ) -> list[Correspondence]:
        """The open pair's points whose predictions are missing or out of date, and the selected one."""
        points = session.points()
        context = (images[0].digest, images[1].digest, session.settings.localisation, self._config())
        context = (*context, session.settings.compare.active)
        self._asked = {v.name: (context, v) for v in variants}
        runs = {
            v.name: self.variant_runs[v.name]
            for v in variants
            if self._answered.get(v.name) == (context, v) and v.name in self.variant_runs.keys() - self._partial
        }
        self._assumed_runs = runs
        if len(runs) < len(variants):
            return points
        primary = runs[variants[0].name]

        def current(point: Correspondence) -> bool:
            if any(point.prediction(run) is None for run in runs.values()):
                return False
            return point.status != "predicted" or point.trg_xy == point.prediction(primary).xy

        return [p for p in points if p.id == session.selected or not current(p)]

    @property
    def idle(self) -> bool:
        """True once the newest request has been answered (or cancelled)."""
        return self.finished_id >= self._client.latest_id

    def cancel(self) -> None:
        self._client.cancel()
        self.finished_id = self._client.latest_id
        for name, state in self.states.items():
            if state.text != "done":
                self.states[name] = VariantState("cancelled", failed=True)
        self.busy.emit(False)
        self.updated.emit()

    def heatmap_for(self, variant: str, pair_id: str, point_id: int | None) -> Heatmap | None:
        heatmap = self.heatmaps.get(variant)
        if heatmap is None or (heatmap.pair_id, heatmap.point_id) != (pair_id, point_id):
            return None
        return heatmap

    # ---- worker answers ----

    def _current(self, request_id: int) -> bool:
        if request_id == self._client.latest_id:
            return True
        self.dropped += 1
        return False

    @Slot(object)
    def _on_result(self, result: VariantResult) -> None:
        if not self._current(result.request_id):
            return
        session = self._session()
        run_id = session.runs.register(result.run)
        self.variant_runs[result.variant] = run_id
        if result.variant in self._asked:
            self._answered[result.variant] = self._asked[result.variant]
        primary = result.variant == self._primary
        matches = result.matches
        for row, point_id in enumerate(self._point_ids):
            point = session.point(point_id, self._pair_id)
            if point is not None:
                # A run's first prediction of a point stands: asked again (for its heatmap, or after
                # reopening), the point keeps it, so numbers never move by the float noise of
                # another batch, and an unchanged point stays the same object (views skip it).
                record = point.prediction(run_id)
                if record is None or result.partial or result.variant in self._partial:  # partials refine
                    xy = (float(matches.match_xy[row, 0]), float(matches.match_xy[row, 1]))
                    record = PredictionRecord(run_id, xy, float(matches.confidence[row]))
                updated = point.with_prediction(record, primary)
                if updated != point:
                    session.replace_point(self._pair_id, point_id, updated)
        if result.heatmap is not None and self._heatmap_point is not None:
            self.heatmaps[result.variant] = Heatmap(self._pair_id, self._heatmap_point, result.heatmap, result.frame)
        (self._partial.add if result.partial else self._partial.discard)(result.variant)
        if not result.partial:
            self.states[result.variant] = VariantState("done", 1.0)
        self.applied += 1
        if self._errors:
            self._errors -= {result.variant, ""}
            if not self._errors:
                self.errors_cleared.emit()
        self.updated.emit()
        if self._assumed_runs.get(result.variant, run_id) != run_id:
            self.request()  # the other points hold another run's predictions: ask for all of them

    @Slot(object)
    def _on_failure(self, failure: Failure) -> None:
        if not self._current(failure.request_id):
            return
        names = [failure.variant] if failure.variant else [n for n, s in self.states.items() if s.text != "done"]
        for name in names:
            self.states[name] = VariantState("cancelled" if failure.cancelled else "failed", failed=True)
        if not failure.cancelled:
            self._errors.add(failure.variant or "")
            prefix = f"{failure.variant}: " if failure.variant and failure.variant != self._primary else ""
            self.error.emit(prefix + failure.message)
        self.updated.emit()

    @Slot(object)
    def _on_progress(self, report: ProgressReport) -> None:
        if report.request_id != self._client.latest_id:
            return
        state = self.states.get(report.variant)
        if report.stage != "done" and (state is None or not state.failed):
            self.states[report.variant] = VariantState(WORKING, report.fraction)
        self.progress.emit(report)

    @Slot(int)
    def _on_started(self, request_id: int) -> None:
        if request_id == self._client.latest_id:
            self.busy.emit(True)

    @Slot(int)
    def _on_finished(self, request_id: int) -> None:
        self.finished_id = max(self.finished_id, request_id)
        if request_id == self._client.latest_id:
            self.busy.emit(False)
