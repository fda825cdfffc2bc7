"""The engine's results for the open pair as the app shows them (Qt-free): which run each variant's
predictions come from, the selected point's heatmap per variant, what each variant's view says,
which failures are on screen, and whether the Stable Diffusion weights are missing.

The predictions themselves live in the session's points (they are saved); this part holds what is
recomputed from the engine's caches and never saved. The computation controller writes it, the
presenter reads it; every mutator emits one of the events below.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

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


class Results:
    """Per-variant results of the open pair.

    Attributes:
        variant_runs: variant name -> run id of its latest applied predictions.
        heatmaps: variant name -> heatmap of the point selected when it was asked.
        states: variant name -> what its view says.
        sd_missing: why the Stable Diffusion weights cannot be loaded; None while they can (or
            before the engine has said).

    Events:
        answered(variant: str): an answer was applied: ``variant_runs``, maybe ``heatmaps``, and a
            "done" state (the predictions are in the session).
        states_changed(names: tuple[str, ...]): the states of ``names`` changed without an answer
            (a request, progress, a failure, a cancel).
        error(message: str): a failure the user must see.
        errors_cleared(): every failure shown has since been answered (or another pair opened).
        weights_changed(sd_missing: str | None): ``sd_missing`` changed.
    """

    def __init__(self) -> None:
        self.variant_runs: dict[str, str] = {}
        self.heatmaps: dict[str, Heatmap] = {}
        self.states: dict[str, VariantState] = {}
        self.sd_missing: str | None = None
        # variant name -> what its newest request asked and what its latest applied answer was for
        # (images, settings, engine): results drawn for another context than asked are stale.
        self._asked: dict[str, Hashable] = {}
        self._answered: dict[str, Hashable] = {}
        self._errors: set[str] = set()  # variants ("" for a whole request) whose failure is on screen
        self.partial: set[str] = set()  # variants whose predictions are running means of part of the ensemble
        self.answered = Event()
        self.states_changed = Event()
        self.error = Event()
        self.errors_cleared = Event()
        self.weights_changed = Event()

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

    def answered_for(self, variant: str) -> Hashable | None:
        """The context the latest applied answer of ``variant`` was computed for."""
        return self._answered.get(variant)

    # ---- mutators ----

    def ask(self, contexts: dict[str, Hashable], states: dict[str, VariantState]) -> None:
        """A new request: what each variant is asked for, and the states of views it changes."""
        self._asked = dict(contexts)
        self.set_states(states)

    def answer(self, variant: str, run_id: str, heatmap: Heatmap | None, partial: bool = False) -> None:
        """Record an applied answer of ``variant`` (its predictions are already in the session);
        a ``partial`` one (part of the ensemble) leaves the view working."""
        self.variant_runs[variant] = run_id
        if variant in self._asked:
            self._answered[variant] = self._asked[variant]
        if heatmap is not None:
            self.heatmaps[variant] = heatmap
        (self.partial.add if partial else self.partial.discard)(variant)
        if not partial:
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
        """Another session: no point of it has a heatmap yet."""
        self.heatmaps.clear()

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

    def set_sd_missing(self, reason: str | None) -> None:
        if reason != self.sd_missing:
            self.sd_missing = reason
            self.weights_changed.emit(reason)
