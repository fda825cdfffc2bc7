"""The app's one model (Qt-free): everything a window shows or saves, and an event for every change.

Controllers change state only through the mutators here (or :class:`~.results.Results`'), which
emit the events below; the app controller subscribes and redraws, asks the engine and autosaves;
views only render what they are given. All emits happen on the GUI thread (engine answers arrive
there as queued Qt signals), see :mod:`.events`.

A new feature is a new part (an attribute with its own events, as :attr:`AppModel.results` or the
session's :attr:`~.session.Session.collection`) and a view that subscribes to it, not new wiring
through the app controller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine import LoadedImage
from engine.collections.review import Candidate
from engine.collections.template import TemplatePoint
from engine.export.document import CONFIDENCE_DIGITS, ImageRef, Keypoint, Point, Prediction

from .collection import Collection, PointFacts, mirrored
from .datasets import ground_truth_points
from .events import Event
from .history import PointEdit, PointsEdit, Step
from .preferences import AppPreferences
from .results import Heatmap, PartialPredictions, Results
from .session import Session
from .settings import SessionSettings


class AppModel:
    """One window's state.

    Attributes:
        session: the open session (pairs, points and their predictions, selection, history, settings).
        images: the open pair's decoded (source, target), None until loaded (or when unreadable).
        results: the engine's per-variant results of the open pair (runs, heatmaps, view states).
        preferences: per-user choices (model locations, device, autosave…).
        job: the long engine job running beside clicks ("tuning", "export"), None when there is none.

    Events:
        session_replaced(session: Session): another session was installed (new, opened, imported).
        edited(description: str): a user edit of the session: a point (undoable), the selection,
            the open pair, undo or redo; ``description`` names it ("add point 1", "select point 2").
            A dataset pair opened for the first time starts with its ground-truth source points
            (:meth:`go_to`, :meth:`set_session`, undo and redo fill them): the pair's content as
            the dataset defines it, not an undo step, announced by the event that opened the pair.
        path_changed(path: Path | None): the session's file changed (saved under another name).
        settings_changed(old: SessionSettings, new: SessionSettings): the session's settings.
        images_changed(images): the open pair's images were (re)loaded, or None.
        preferences_changed(old: AppPreferences, new: AppPreferences).
        engine_changed(): what the engine can compute changed outside the settings (weights were
            installed): everything shown is asked for again.
        job_changed(job: str | None).
        collection_changed(pair_id: str | None): the open collection's ``changed`` (see
            :class:`~.collection.Collection`), forwarded from whichever session is installed: what
            propagation found for one image (its points may have new predictions too), or, with
            None, the whole collection (template and every image's points, thresholds, "not
            visible" names, images to propagate again).
    """

    def __init__(self, preferences: AppPreferences) -> None:
        self.preferences = preferences
        self.session = Session(preferences.settings)
        self.images: tuple[LoadedImage, LoadedImage] | None = None
        self.results = Results()
        self.job: str | None = None
        self.session_replaced = Event()
        self.edited = Event()
        self.settings_changed = Event()
        self.images_changed = Event()
        self.preferences_changed = Event()
        self.engine_changed = Event()
        self.job_changed = Event()
        self.collection_changed = Event()
        self.path_changed = Event()
        self._followed: Collection | None = None  # the collection whose ``changed`` is forwarded

    # ---- the session ----

    def set_session(self, session: Session) -> None:
        """Install ``session`` (also the same one again, after an import changed it)."""
        self.session = session
        self.results.clear_heatmaps()
        self._follow(session.collection)
        self._fill_ground_truth()
        self.session_replaced.emit(session)

    def set_path(self, path: Path | None) -> None:
        """The session's file is now ``path`` (saved there; it autosaves there from now on)."""
        if path != self.session.path:
            self.session.path = path
            self.path_changed.emit(path)

    def set_settings(self, settings: SessionSettings) -> None:
        old = self.session.settings
        if settings != old:
            self.session.settings = settings
            self.settings_changed.emit(old, settings)

    def change_settings(self, **changes: object) -> None:
        """Replace fields of the session's settings (``display=…``, ``compare=…``)."""
        self.set_settings(dataclasses.replace(self.session.settings, **changes))

    # ---- user edits of the open pair ----

    def edit(
        self, description: str, after: Keypoint | None, before_id: int | None = None, run: str | None = None
    ) -> PointEdit:
        """An undoable change to a point of the open pair (see :meth:`Session.edit`)."""
        edit = self.session.edit(description, after, before_id, run)
        self.edited.emit(description)
        return edit

    def edit_points(self, description: str, edits: Sequence[PointEdit]) -> PointsEdit | None:
        """Several point edits (of any pairs: a bulk accept, clearing an image) as one undo step;
        None (and no event) when ``edits`` is empty."""
        step = self.session.edit_points(description, edits)
        if step is not None:
            self.edited.emit(description)
        return step

    def move_point(self, point_id: int, src_xy: tuple[float, float]) -> None:
        if self.session.move_point(point_id, src_xy) is not None:
            self.edited.emit("move source point")

    def set_status(self, point_id: int, status: str) -> bool:
        """Mark a predicted point; False when that changed nothing."""
        edit = self.session.set_status(point_id, status)
        if edit is not None:
            self.edited.emit(edit.description)
        return edit is not None

    def select(self, point_id: int | None) -> None:
        if point_id != self.session.selected and (point_id is None or self.session.point(point_id) is not None):
            self.session.selected = point_id
            self.edited.emit("select" if point_id is None else f"select point {point_id + 1}")

    def undo(self) -> Step | None:
        edit = self.session.undo()
        if edit is not None:
            self._fill_ground_truth()  # it may have opened another pair
            self.edited.emit(f"undo {edit.description}")
        return edit

    def redo(self) -> Step | None:
        edit = self.session.redo()
        if edit is not None:
            self._fill_ground_truth()
            self.edited.emit(f"redo {edit.description}")
        return edit

    def go_to(self, index: int) -> bool:
        """Open pair ``index``; False if it does not exist (or is open)."""
        if not self.session.go_to(index):
            return False
        self._fill_ground_truth()
        self.edited.emit(f"open pair {index + 1}")
        return True

    def _fill_ground_truth(self) -> None:
        """The open pair, if a dataset's and still without points, starts with its ground-truth
        source points (targets to predict). Not an undo step: undo must never remove the benchmark's
        points, and they are the pair's starting content, not a user's edit. The caller emits."""
        session = self.session
        pair = session.pair
        if pair is not None and pair.ground_truth and not session.points():
            session.set_points(pair.pair_id, ground_truth_points(pair))

    # ---- the open pair's images and the engine's answers ----

    def set_images(self, images: tuple[LoadedImage, LoadedImage] | None) -> None:
        self.images = images
        self.images_changed.emit(images)

    def apply_answer(
        self,
        variant: str,
        run: dict,
        pair_id: str,
        point_ids: Sequence[int],
        match_xy: np.ndarray,
        confidence: np.ndarray,
        primary: bool,
        heatmap: Heatmap | None,
        ensemble: tuple[int, int] | None = None,
    ) -> str:
        """Store one variant's predictions of ``point_ids`` (rows of ``match_xy``, ``N x 2`` target
        pixels, and ``confidence``, ``N``) under its run, then emit ``results.answered``. A primary
        prediction also moves the target of a point still "predicted". ``ensemble``: ``(k, E)`` for
        the running mean of k of the E members, held in :attr:`results` (drawn over the points,
        never stored in them, so a save never holds it) until the variant's next answer; None for a
        final answer. Returns the run id."""
        partial = ensemble is not None
        session = self.session
        run_id = session.runs.register(run)
        records, sources = {}, {}
        for row, point_id in enumerate(point_ids):
            point = session.point(point_id, pair_id)
            if point is None:
                continue
            # A run's first prediction of a point stands: asked again (for its heatmap, or after
            # reopening), the point keeps it, so numbers never move by the float noise of another
            # batch, and an unchanged point stays the same object (views skip it).
            record = None if partial else point.prediction(run_id)
            if record is None:
                xy = (float(match_xy[row, 0]), float(match_xy[row, 1]))
                record = Prediction(run_id, xy, round(float(confidence[row]), CONFIDENCE_DIGITS))
            records[point_id], sources[point_id] = record, point.src_xy
            if not partial:
                updated = point.with_prediction(record, primary)
                if updated != point:
                    session.replace_point(pair_id, point_id, updated)
        held = None if ensemble is None else PartialPredictions(pair_id, records, sources, primary, ensemble)
        self.results.answer(variant, run_id, heatmap, held)
        return run_id

    # ---- the collection ----

    @property
    def collection(self) -> Collection | None:
        return self.session.collection

    def mirror_template(self) -> bool:
        """In a collection, the pairs' sources are the template: apply the open pair's source points,
        where they differ from the template, to the template and every other image (see
        :func:`~.collection.mirrored`; propagation forgets deleted points). True (and
        ``collection_changed(None)``) when the template changed. Not an undo step of its own: undoing
        the edit of the open pair's source mirrors back."""
        session, collection = self.session, self.session.collection
        pair = session.pair
        if collection is None or pair is None or collection.image(pair.pair_id) is None:
            return False
        shown = {p.id: TemplatePoint(p.id, p.label, p.src_xy) for p in session.points()}
        if shown == collection.template:
            return False
        for image in collection.images:
            if image.pair_id != pair.pair_id:
                session.set_points(image.pair_id, mirrored(session.points(image.pair_id), shown))
                collection.forget(image.pair_id, [i for i in image.propagated if i not in shown])
        collection.set_template(shown)  # emits collection_changed(None)
        return True

    def apply_propagation(
        self,
        pair_id: str,
        asked: dict[int, Point],
        predictions: dict[int, Candidate],
        run: dict | None,
        images: Sequence[ImageRef],
    ) -> None:
        """Store what propagation found on image ``pair_id``: ``asked`` the template points it was asked
        for (id -> template pixels), ``predictions`` the winning candidate per id (target pixels),
        ``run`` its run details, ``images`` the template's and the target's records. A point whose
        template position changed meanwhile is left for the next request. Emits
        ``collection_changed(pair_id)``."""
        session, collection = self.session, self.session.collection
        if collection is None:
            return
        for ref in images:
            session.images[ref.path.resolve()] = dataclasses.replace(ref, path=ref.path.resolve())
        run_id = session.runs.register(run) if run is not None else ""
        facts, sources = {}, {}
        for point_id, source_xy in asked.items():
            point = session.point(point_id, pair_id)
            if point is None or point.src_xy != source_xy:
                continue  # the template point moved (or went) meanwhile: predicted again, or not at all
            sources[point_id] = source_xy
            candidate = predictions.get(point_id)
            if candidate is None:
                continue
            record = Prediction(run_id, candidate.xy, candidate.confidence)
            session.replace_point(pair_id, point_id, point.with_prediction(record, primary=True))
            facts[point_id] = PointFacts(
                candidate.confidence, candidate.cycle_error, candidate.template_side, candidate.template
            )
        collection.record(pair_id, facts, sources)

    def _follow(self, collection: Collection | None) -> None:
        if self._followed is not None:
            self._followed.changed.disconnect(self.collection_changed.emit)
        self._followed = collection
        if collection is not None:
            collection.changed.connect(self.collection_changed.emit)

    # ---- preferences and jobs ----

    def set_preferences(self, preferences: AppPreferences) -> None:
        old = self.preferences
        if preferences != old:
            self.preferences = preferences
            self.preferences_changed.emit(old, preferences)

    def note_engine_change(self) -> None:
        """The engine can compute something else now (weights were installed)."""
        self.engine_changed.emit()

    def set_job(self, job: str | None) -> None:
        if job != self.job:
            self.job = job
            self.job_changed.emit(job)
