"""From the model to engine requests, and from engine answers back into the model.

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

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from engine import LoadedImage
from engine.export.document import Keypoint
from engine.variants import Variant

from ..model.app_model import AppModel
from ..model.results import Heatmap, VariantState
from ..worker.engine_client import EngineClient
from ..worker.messages import ComputeRequest, Failure, ProgressReport, VariantResult

NEEDS_WEIGHTS = "needs SD weights"
WORKING = "computing"  # a view's state while its variant is computed (the status bar says the step)


@dataclass(frozen=True)
class _Asked:
    """What the newest request asks: its points (rows of the answers), the point whose heatmap
    comes back, the primary variant, the pair, and per variant the run its points already hold."""

    point_ids: tuple[int, ...] = ()
    heatmap_point: int | None = None
    primary: str = ""
    pair_id: str = ""
    assumed_runs: dict[str, str] = field(default_factory=dict)


class ComputationController(QObject):
    """Submits requests for the model's open pair and applies their answers to the model (which
    emits ``results.answered``, ``states_changed``, ``error``, ``errors_cleared``), and the newest
    request's progress (``results.progress_changed``, which the status bar renders).

    Signals (for tests and the benchmark; views follow the model):
        progress(ProgressReport): a stage of the newest request.
        busy(bool): the newest request started / finished.

    Attributes:
        applied: number of answers applied (stale ones excluded), for tests and the benchmark.
        dropped: number of stale answers dropped.
        finished_id: id of the last request the worker finished (or abandoned).
    """

    progress = Signal(object)
    busy = Signal(bool)

    def __init__(self, client: EngineClient, model: AppModel) -> None:
        super().__init__()
        self._client = client
        self._model = model
        self.applied = 0
        self.dropped = 0
        self.finished_id = 0
        self._asked = _Asked()
        self._answer_at_once = False
        # Whether each point of the open pair holds current predictions, by point id: (the point,
        # the verdict), valid for the pair and runs in ``_verdicts_for`` (points are immutable
        # values, so an unchanged point keeps its verdict and a click checks only the new one).
        self._verdicts: dict[int, tuple[Keypoint, bool]] = {}
        self._verdicts_for: tuple[object, ...] = ()
        self.points_checked = 0  # points whose predictions were looked at, for tests
        worker = client.worker
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failure)
        worker.progress.connect(self._on_progress)
        worker.started.connect(self._on_started)
        worker.finished.connect(self._on_finished)

    def request(self) -> int | None:
        """Ask for predictions of every point of the open pair; returns the request id."""
        model = self._model
        session, images, results = model.session, model.images, model.results
        if session.pair is None or images is None:
            return None
        variants = session.settings.active_variants()
        unrunnable = {v.name for v in results.needing_weights(variants)} if session.settings.compare.active else set()
        points, contexts, assumed = self._points_to_ask(variants, images)
        point_ids = tuple(p.id for p in points)
        heatmap_point = session.selected if session.selected in point_ids else None
        self._asked = _Asked(point_ids, heatmap_point, variants[0].name, session.pair.pair_id, assumed)
        request = ComputeRequest(
            request_id=self._client.next_id(),
            source=images[0],
            target=images[1],
            variants=tuple(v for v in variants if v.name not in unrunnable),
            localisation=session.settings.localisation,
            points_xy=np.array([p.src_xy for p in points], dtype=np.float64).reshape(-1, 2),
            heatmap_row=None if heatmap_point is None else point_ids.index(heatmap_point),
            engine=model.preferences.engine_config(),
            refuse_fallback=session.settings.compare.active,
        )
        requested = {v.name for v in variants}
        states = {  # work for a variant no longer shown will not come
            name: VariantState("cancelled", failed=True)
            for name, state in results.states.items()
            if name not in requested and state.text != "done" and not state.failed
        }
        for variant in variants:
            if variant.name in unrunnable:
                states[variant.name] = VariantState(NEEDS_WEIGHTS, failed=True)
                results.drop_heatmap(variant.name)  # a map from before the weights went must not stay
            elif variant.name not in results.states or results.states[variant.name].failed:
                states[variant.name] = VariantState("waiting")
        results.ask(contexts, states)
        # Even with no variant left: it ends the previous request's answers.
        self._answer_at_once = self._client.submit(request) and bool(point_ids)
        return request.request_id

    def _points_to_ask(
        self, variants: list[Variant], images: tuple[LoadedImage, LoadedImage]
    ) -> tuple[list[Keypoint], dict[str, object], dict[str, str]]:
        """The open pair's points whose predictions are missing or out of date, and the selected
        one; the context each variant is asked for; the run each variant's points already hold."""
        session, results = self._model.session, self._model.results
        points = session.points()
        context = (images[0].digest, images[1].digest, session.settings.localisation)
        context = (*context, self._model.preferences.engine_config(), session.settings.compare.active)
        contexts = {v.name: (context, v) for v in variants}
        runs = {
            v.name: results.variant_runs[v.name]
            for v in variants
            if results.answered_for(v.name) == (context, v) and v.name in results.variant_runs.keys() - results.partial
        }
        if len(runs) < len(variants):
            return points, contexts, runs
        primary = runs[variants[0].name]
        if self._verdicts_for != (session.pair.pair_id, primary, *runs.items()):
            self._verdicts, self._verdicts_for = {}, (session.pair.pair_id, primary, *runs.items())

        def current(point: Keypoint) -> bool:
            if any(point.prediction(run) is None for run in runs.values()):
                return False
            return point.status != "predicted" or point.trg_xy == point.prediction(primary).xy

        verdicts, asked = self._verdicts, []
        for point in points:
            known = verdicts.get(point.id)
            if known is None or known[0] is not point:
                known = verdicts[point.id] = (point, current(point))
                self.points_checked += 1
            if not known[1] or point.id == session.selected:
                asked.append(point)
        return asked, contexts, runs

    @property
    def answer_coming(self) -> bool:
        """The newest request asks for points, has not finished, and went to the query lane: its
        answer comes in milliseconds (one that needs the engine thread may wait for an extraction)."""
        return self._answer_at_once and not self.idle

    @property
    def idle(self) -> bool:
        """True once the newest request has been answered (or cancelled)."""
        return self.finished_id >= self._client.latest_id

    def cancel(self) -> None:
        self._client.cancel()
        self.finished_id = self._client.latest_id
        results = self._model.results
        cancelled = VariantState("cancelled", failed=True)
        results.fail({name: cancelled for name, state in results.states.items() if state.text != "done"}, "", "")
        results.end_progress()
        self.busy.emit(False)

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
        asked = self._asked
        heatmap = None
        if result.heatmap is not None and asked.heatmap_point is not None:
            heatmap = Heatmap(asked.pair_id, asked.heatmap_point, result.heatmap, result.frame)
        matches = result.matches
        run_id = self._model.apply_answer(
            result.variant,
            result.run,
            asked.pair_id,
            asked.point_ids,
            matches.match_xy,
            matches.confidence,
            result.variant == asked.primary,
            heatmap,
            result.ensemble,
        )
        self.applied += 1
        if asked.assumed_runs.get(result.variant, run_id) != run_id:
            self.request()  # the other points hold another run's predictions: ask for all of them

    @Slot(object)
    def _on_failure(self, failure: Failure) -> None:
        if not self._current(failure.request_id):
            return
        results = self._model.results
        names = [failure.variant] if failure.variant else [n for n, s in results.states.items() if s.text != "done"]
        state = VariantState("cancelled" if failure.cancelled else "failed", failed=True)
        message = ""
        if not failure.cancelled:
            prefix = f"{failure.variant}: " if failure.variant and failure.variant != self._asked.primary else ""
            message = prefix + failure.message
        results.fail(dict.fromkeys(names, state), failure.variant or "", message)

    @Slot(object)
    def _on_progress(self, report: ProgressReport) -> None:
        if report.request_id != self._client.latest_id:
            return
        state = self._model.results.states.get(report.variant)
        if report.stage != "done" and (state is None or not state.failed):
            self._model.results.set_states({report.variant: VariantState(WORKING, report.fraction)})
        if not self.idle:  # a cancelled request's last reports are not shown
            self._model.results.report_progress(report.request_id, report.text, report.fraction)
        self.progress.emit(report)

    @Slot(int)
    def _on_started(self, request_id: int) -> None:
        if request_id == self._client.latest_id:
            self.busy.emit(True)

    @Slot(int)
    def _on_finished(self, request_id: int) -> None:
        self.finished_id = max(self.finished_id, request_id)
        if request_id == self._client.latest_id:
            self._model.results.end_progress()
            self.busy.emit(False)
