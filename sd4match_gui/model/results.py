"""The engine's results for the open pair as the app shows them (Qt-free): which run each variant's
predictions come from, the selected point's heatmap per variant, what each variant's view says,
the running means of a progressive ensemble, how far the newest request has got (the status line),
which failures are on screen, and whether the Stable Diffusion weights are missing.

Final predictions live in the session's points (they are saved); this part holds what is
recomputed from the engine's caches and never saved. Partial predictions (the running mean of the
first k of E ensemble members) are held here, never in the points, so no save, export, undo step
or reopened session can take one for the final answer; views draw the points through
:meth:`Results.shown`, which lays them over. The computation controller writes this part, the
presenter reads it; every mutator emits one of the events below.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from engine.export.document import Keypoint, Point, Prediction
from engine.frames import GridFrame
from engine.variants import Variant

from .events import Event


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


DONE = VariantState("done", 1.0)


@dataclass(frozen=True)
class EngineProgress:
    """How far the newest request has got, as the status line says it.

    Attributes:
        request_id: the request reported on.
        text: the step in the user's words, with the time left.
        fraction: of the whole request (every variant), in [0, 1].
    """

    request_id: int
    text: str
    fraction: float


@dataclass(frozen=True)
class PartialPredictions:
    """One variant's latest partial answer on pair ``pair_id``: point id -> running-mean prediction
    (target pixels) under the final run's id, and the source pixels it was asked for (a point moved
    since is not drawn with it); ``primary``: it also moves targets still "predicted";
    ``ensemble``: ``(k, E)``, the means of k of the E members."""

    pair_id: str
    records: dict[int, Prediction]
    sources: dict[int, Point]
    primary: bool
    ensemble: tuple[int, int]

    def over(self, point: Keypoint) -> Prediction | None:
        """The partial prediction to draw over ``point``, if it was asked for that point as it is."""
        record = self.records.get(point.id)
        return record if record is not None and self.sources.get(point.id) == point.src_xy else None


class Results:
    """Per-variant results of the open pair.

    Attributes:
        variant_runs: variant name -> run id of its latest applied predictions.
        heatmaps: variant name -> heatmap of the point selected when it was asked.
        states: variant name -> what its view says.
        sd_missing: why the Stable Diffusion weights cannot be loaded; None while they can (or
            before the engine has said).
        progress: how far the newest request has got while it runs; None once it is answered or
            cancelled (or before it reports).

    Events:
        answered(variant: str): an answer was applied: ``variant_runs``, maybe ``heatmaps``, and
            a "done" state with the predictions in the session; or a partial one, held here (see
            :meth:`shown`) with the view still working.
        states_changed(names: tuple[str, ...]): the states of ``names`` changed without an answer
            (a request, progress, a failure, a cancel).
        error(message: str): a failure the user must see.
        errors_cleared(): every failure shown has since been answered (or another pair opened).
        weights_changed(sd_missing: str | None): ``sd_missing`` changed.
        progress_changed(progress: EngineProgress | None): ``progress`` changed.
    """

    def __init__(self) -> None:
        self.variant_runs: dict[str, str] = {}
        self.heatmaps: dict[str, Heatmap] = {}
        self.states: dict[str, VariantState] = {}
        self.sd_missing: str | None = None
        self.progress: EngineProgress | None = None
        # variant name -> what its newest request asked and what its latest applied answer was for
        # (images, settings, engine): results drawn for another context than asked are stale.
        self._asked: dict[str, Hashable] = {}
        self._answered: dict[str, Hashable] = {}
        self._errors: set[str] = set()  # variants ("" for a whole request) whose failure is on screen
        # variant -> its latest partial answer, until its final one (never in the session's points)
        self._partials: dict[str, PartialPredictions] = {}
        # id(point) -> (point, partial records laid over it, the drawn point): unchanged points keep
        # their drawn object, so views skip them
        self._shown: dict[int, tuple[Keypoint, tuple[Prediction, ...], Keypoint]] = {}
        self.answered = Event()
        self.states_changed = Event()
        self.error = Event()
        self.errors_cleared = Event()
        self.weights_changed = Event()
        self.progress_changed = Event()

    # ---- reading ----

    def heatmap_for(self, variant: str, pair_id: str, point_id: int | None) -> Heatmap | None:
        heatmap = self.heatmaps.get(variant)
        if heatmap is None or (heatmap.pair_id, heatmap.point_id) != (pair_id, point_id):
            return None
        return heatmap

    def is_stale(self, variant: str) -> bool:
        """Whether the results drawn for ``variant`` were computed for other settings, images or
        engine than those now asked (a recompute running, or cancelled): they are shown as stale."""
        answered = self._answered.get(variant)
        return answered is not None and answered != self._asked.get(variant)

    def needing_weights(self, variants: list[Variant]) -> list[Variant]:
        """Those of ``variants`` that cannot run now because the Stable Diffusion weights are missing."""
        if self.sd_missing is None:
            return []
        return [v for v in variants if v.settings.backend != "sift"]

    @property
    def partial(self) -> set[str]:
        """Variants whose drawn predictions are running means of part of the ensemble."""
        return set(self._partials)

    def partial_ensemble(self, variant: str) -> tuple[int, int] | None:
        """``(k, E)`` when ``variant``'s drawn predictions are the means of k of its E members
        (refining, or left so by a cancel); None when they are final, or no point has one."""
        partial = self._partials.get(variant)
        return None if partial is None or not partial.records else partial.ensemble

    def shown(self, pair_id: str, points: list[Keypoint]) -> list[Keypoint]:
        """``points`` of pair ``pair_id`` as drawn: with every refining variant's partial prediction
        laid over (a primary one also moves a target still "predicted"). A point without one is
        returned as is."""
        partials = [p for p in self._partials.values() if p.pair_id == pair_id and p.records]
        if not partials:
            self._shown.clear()  # bounded by one refinement: emptied once it ends
            return points
        shown = []
        for point in points:
            over = tuple(record for p in partials if (record := p.over(point)) is not None)
            if over:
                cached = self._shown.get(id(point))
                if cached is None or cached[0] is not point or cached[1] != over:
                    drawn = point
                    for partial in partials:
                        if (record := partial.over(point)) is not None:
                            drawn = drawn.with_prediction(record, partial.primary)
                    cached = self._shown[id(point)] = (point, over, drawn)
                point = cached[2]
            shown.append(point)
        return shown

    def shown_point(self, pair_id: str, point: Keypoint | None) -> Keypoint | None:
        """One point as drawn (see :meth:`shown`)."""
        return None if point is None else self.shown(pair_id, [point])[0]

    def answered_for(self, variant: str) -> Hashable | None:
        """The context the latest applied answer of ``variant`` was computed for."""
        return self._answered.get(variant)

    # ---- mutators ----

    def ask(self, contexts: dict[str, Hashable], states: dict[str, VariantState]) -> None:
        """A new request: what each variant is asked for, and the states of views it changes."""
        self._asked = dict(contexts)
        self.set_states(states)

    def answer(
        self, variant: str, run_id: str, heatmap: Heatmap | None, partial: PartialPredictions | None = None
    ) -> None:
        """Record an applied answer of ``variant``: a final one's predictions are already in the
        session (and replace any partial ones); a ``partial`` one (part of the ensemble) is held
        here and leaves the view working."""
        self.variant_runs[variant] = run_id
        if variant in self._asked:
            self._answered[variant] = self._asked[variant]
        if heatmap is not None:
            self.heatmaps[variant] = heatmap
        if partial is not None:
            self._partials[variant] = partial
        else:
            self._partials.pop(variant, None)
            self.states[variant] = DONE
        cleared = bool(self._errors) and not (self._errors - {variant, ""})
        self._errors -= {variant, ""}
        self.answered.emit(variant)
        if cleared:
            self.errors_cleared.emit()

    def set_states(self, states: dict[str, VariantState]) -> None:
        changed = {name: state for name, state in states.items() if self.states.get(name) != state}
        if changed:
            self.states.update(changed)
            self.states_changed.emit(tuple(changed))

    def drop_heatmap(self, variant: str) -> None:
        """A map that no longer stands (its variant cannot run now)."""
        self.heatmaps.pop(variant, None)

    def clear_heatmaps(self) -> None:
        """Another session: no point of it has a heatmap (or a partial prediction) yet."""
        self.heatmaps.clear()
        self._partials.clear()

    def fail(self, failed: dict[str, VariantState], key: str, message: str) -> None:
        """Views of ``failed`` end failed; a ``message`` (unless empty: a cancel) is shown, and
        remembered under ``key`` (a variant, or "" for the whole request) until answered."""
        self.set_states(failed)
        if message:
            self._errors.add(key)
            self.error.emit(message)

    def forget_errors(self) -> None:
        """A new pair: failures of the previous one no longer apply."""
        if self._errors:
            self._errors.clear()
            self.errors_cleared.emit()

    def report_progress(self, request_id: int, text: str, fraction: float) -> None:
        """The newest request reached ``fraction`` of its work. Within one request the fraction
        never goes back (its own pass after the extraction it waited for reports from 0 again)."""
        last = self.progress
        if last is not None and last.request_id == request_id:
            fraction = max(fraction, last.fraction)
        progress = EngineProgress(request_id, text, fraction)
        if progress != last:
            self.progress = progress
            self.progress_changed.emit(progress)

    def end_progress(self) -> None:
        """The newest request was answered or cancelled: nothing runs for the open pair."""
        if self.progress is not None:
            self.progress = None
            self.progress_changed.emit(None)

    def set_sd_missing(self, reason: str | None) -> None:
        if reason != self.sd_missing:
            self.sd_missing = reason
            self.weights_changed.emit(reason)
