"""Collection mode: a template's keypoints propagated onto many images, reviewed in a queue.

* **New collection** (File menu): the template (the open pair's source with its points, or an
  image file) and the images. The session becomes one pair *template -> image* per image, every
  pair holding the template's points (see :mod:`sd4match_gui.model.collection`).
* **Propagation** runs on the engine thread one image at a time (the next request leaves when the
  previous answer arrives, so clicks are computed in between); answers fill the pairs' points as
  they arrive. Reviewed images join the templates (best prediction wins). Cancel stops after the
  image in flight; Resume (or any template edit, or reopening the session) goes on with what is left.
* **Template edits**: the pairs' sources mirror the template, so a point added, moved, renamed or
  deleted on the source of any pair is applied to every pair (a moved point keeps the targets a
  person approved; it is predicted again elsewhere; a deleted one goes from every image).
* **Review**: :class:`~sd4match_gui.controller.review_queue.ReviewQueue` (the Review dock's rows,
  the jumps to what needs a look, bulk accept and clear).
* **Names**: :class:`~sd4match_gui.controller.labels.LabelController` (the Keypoints dock).
* **Export**: COCO keypoints (:func:`engine.collections.coco.write_collection_coco`); the usual
  Export writes the sd-correspondence document (one pair per template -> image).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QFileDialog

from engine.collections.coco import write_collection_coco
from engine.collections.schema import KeypointSchema, numbered_schema
from engine.collections.template import TemplatePoint
from engine.errors import EngineError
from engine.export.document import Keypoint, Prediction

from ..model.collection import (
    Collection,
    CollectionImage,
    PointFacts,
)
from ..model.pairs import PairEntry, pair_id_for
from ..model.session_file import to_document
from ..views.new_collection_dialog import NewCollectionDialog
from ..worker.propagation_job import PropagationRequest, PropagationResult, TemplateImage
from .labels import LabelController
from .review_queue import ReviewQueue

if TYPE_CHECKING:
    from .app_controller import AppController

COCO_FILTER = "COCO keypoints (*.json)"


class CollectionController(QObject):
    """Everything collection mode adds to the window.

    Attributes:
        running: propagation goes on while there is an image left (False after Cancel).
        in_flight: the request the engine is computing, or None.
        answered: propagation answers applied (tests and the benchmark count them).
        review: the review queue (controller/review_queue.py).
    """

    def __init__(self, app: AppController) -> None:
        super().__init__()
        self._app = app
        window = app.window
        self.labels = LabelController(app, window.label_panel)
        app.annotation.source_click = self.labels.source_click
        self.review = ReviewQueue(app, lambda: self.running, self._propagate_again)
        self.running = False
        self.in_flight: PropagationRequest | None = None
        self.answered = 0
        self._job_id = 0
        self._session_seen: object = None
        self._dialog: NewCollectionDialog | None = None
        app.client.worker.propagated.connect(self._on_propagated)
        app.model.results.answered.connect(lambda _variant: self.review.refresh_queue())
        window.review_panel.cancel_clicked.connect(self.cancel)
        for name, slot in {
            "new_collection": self.ask_new_collection,
            "export_coco": self.ask_export_coco,
            "resume_propagation": self.resume,
        }.items():
            window.actions[name].triggered.connect(slot)
        self._show_mode()

    @property
    def collection(self) -> Collection | None:
        return self._app.session.collection

    # ---- the app's hook ----

    def after_change(self) -> None:
        """Called by the app after every session change: follow a new session, mirror template
        edits onto every pair, go on propagating, redraw the docks."""
        session = self._app.session
        if session is not self._session_seen:
            self._session_seen = session
            self._job_id += 1  # answers for the previous session are dropped
            self.in_flight = None
            self.running = session.collection is not None
            if session.collection is not None:
                self.review.follow(session.collection)
            self._show_mode()
        self.labels.sync_with_session()
        if self.collection is not None and self._sync_template():
            self.running = True
        self._pump()
        self.labels.refresh()
        self.review.refresh_queue()

    # ---- new collection ----

    def ask_new_collection(self) -> None:
        session = self._app.session
        pair = session.pair
        points = len(session.points()) if pair is not None else 0
        self._dialog = NewCollectionDialog(points, pair.source.name if pair else "none", self._app.window)
        self._dialog.finished.connect(self._dialog_finished)
        self._dialog.open()

    def _dialog_finished(self, result: int) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is not None and result == QDialog.DialogCode.Accepted:
            self.new_collection(dialog.template_path(), dialog.target_paths())

    def new_collection(self, template: Path | None, targets: Sequence[Path]) -> bool:
        """Open a collection: ``template`` an image file, or None for the open pair's source with its
        points; ``targets`` image files and folders. False (and an error shown) when they do not do."""
        from engine.collections.propagate import find_targets  # torch: loads with the first collection

        app = self._app
        try:
            if not targets:
                raise EngineError("choose the images to annotate (files or a folder)")
            images = find_targets(list(targets))
            if template is None:
                if app.session.pair is None or not app.session.points():
                    raise EngineError(
                        "the open pair's source has no points: label it first, or choose a template image"
                    )
                template_path = app.session.pair.source.resolve()
                schema, points = self._template_from_source()
            else:
                if not template.is_file():
                    raise EngineError(f"template image '{template}' does not exist")
                template_path = template.resolve()
                schema = self.labels.labelling.schema or numbered_schema(10)
                points = {}
        except EngineError as exc:
            app.notices.report_error(str(exc))
            return False
        images = [path.resolve() for path in images if path.resolve() != template_path]
        if not images:
            app.notices.report_error("No image to annotate besides the template.")
            return False
        pairs, taken = [], set()
        for path in images:
            pair_id = pair_id_for(template_path, path, taken)
            taken.add(pair_id)
            pairs.append(PairEntry(pair_id, template_path, path))
        collection = Collection(schema, template_path, [CollectionImage(p.pair_id, p.target) for p in pairs])
        collection.template = points
        app.files.open_pairs(
            pairs, message=f"New collection: {len(pairs)} image(s) from template {template_path.name}."
        )
        session = app.session
        for pair in pairs:
            session.set_points(pair.pair_id, collection.template_copies())
        session.collection = collection
        self._session_seen = None  # follow it as a new session
        app.after_change()
        return True

    def _template_from_source(self) -> tuple[KeypointSchema, dict[int, TemplatePoint]]:
        """The schema and template points of the open pair's source: the names in use when every point
        carries one of them, else the points' own labels, else numbered names."""
        points = self._app.session.points()
        labels = [p.label for p in points]
        schema = self.labels.labelling.schema
        unique = all(labels) and len(set(labels)) == len(labels)
        if not (unique and schema is not None and set(labels) <= set(schema.keypoints)):
            if unique:
                schema = KeypointSchema("object", tuple(labels))
            else:
                schema = numbered_schema(len(points))
                labels = list(schema.keypoints)
        return schema, {p.id: TemplatePoint(p.id, label, p.src_xy) for p, label in zip(points, labels, strict=True)}

    # ---- template edits ----

    def _sync_template(self) -> bool:
        """Apply the open pair's source points, where they differ from the template, to the template and
        every pair; True when the template changed."""
        session, collection = self._app.session, self.collection
        assert collection is not None
        pair = session.pair
        if pair is None or collection.image(pair.pair_id) is None:
            return False
        shown = {p.id: TemplatePoint(p.id, p.label, p.src_xy) for p in session.points()}
        if shown == collection.template:
            return False
        for image in collection.images:
            if image.pair_id == pair.pair_id:
                continue
            points = {p.id: p for p in session.points(image.pair_id)}
            updated = []
            for point_id, new in shown.items():
                old = points.get(point_id)
                if old is None:
                    updated.append(Keypoint(id=point_id, src_xy=new.xy, label=new.label))
                elif old.src_xy != new.xy:
                    moved = dataclasses.replace(old, src_xy=new.xy, label=new.label)
                    updated.append(moved if old.approved else old.moved_source(new.xy))
                else:
                    updated.append(dataclasses.replace(old, label=new.label))
            session.set_points(image.pair_id, updated)
            collection.forget(image.pair_id, [i for i in image.propagated if i not in shown])
        collection.set_template(shown)
        return True

    # ---- propagation ----

    def resume(self) -> None:
        if self.collection is None:
            self._app.notices.notify("Open a collection first (File > New collection).")
            return
        self.running = True
        self._pump()
        self.review.refresh_queue()

    def _propagate_again(self) -> None:
        """An image was cleared: predict it again."""
        self.running = True
        self._app.after_change()

    def cancel(self) -> None:
        """Stop propagating after the image in flight (its answer is still applied)."""
        if self.running:
            self.running = False
            self._app.notices.notify("Propagation stopped; Go > Resume propagation goes on with the rest.")
            self.review.refresh_queue()

    def _pump(self) -> None:
        """Send the next image to the engine when nothing is in flight."""
        collection = self.collection
        if collection is None or not self.running or self.in_flight is not None:
            return
        pending = [image for image in collection.images if collection.missing(image)]
        if not pending:
            self.running = False
            return
        current = self._app.session.pair
        image = next((i for i in pending if current is not None and i.pair_id == current.pair_id), pending[0])
        session = self._app.session
        variant = session.settings.active_variants()[0]
        points_of = {i.pair_id: session.points(i.pair_id) for i in collection.images}
        templates = tuple(
            TemplateImage(name, path, points)
            for name, path, points in collection.templates_for(points_of)
            if path != image.path
        )
        self.in_flight = PropagationRequest(
            job_id=self._job_id,
            pair_id=image.pair_id,
            target=image.path,
            point_ids=tuple(collection.missing(image)),
            templates=templates,
            variant=variant,
            localisation=session.settings.localisation,
            engine=self._app.preferences.engine_config(),
            thresholds=collection.thresholds,
        )
        self._app.client.propagate(self.in_flight)

    @Slot(object)
    def _on_propagated(self, result: PropagationResult) -> None:
        request, collection = self.in_flight, self.collection
        if request is None or result.job_id != self._job_id or result.pair_id != request.pair_id:
            return
        self.in_flight = None
        self.answered += 1
        if collection is not None:
            if result.error:
                collection.fail(result.pair_id, result.error)
            else:
                self._apply(request, result, collection)
        self._pump()
        app = self._app
        app.presenter.render(app.session)
        app.files.autosave_later()

    def _apply(self, request: PropagationRequest, result: PropagationResult, collection: Collection) -> None:
        session = self._app.session
        template = request.templates[0]
        if result.template_ref is not None and result.target_ref is not None:
            for ref in (result.template_ref, result.target_ref):
                session.images[ref.path.resolve()] = dataclasses.replace(ref, path=ref.path.resolve())
        run_id = session.runs.register(result.run) if result.run is not None else ""
        facts, sources = {}, {}
        for point_id in request.point_ids:
            point = session.point(point_id, result.pair_id)
            source_xy = template.points.get(point_id)
            if point is None or source_xy is None or point.src_xy != source_xy:
                continue  # the template point moved (or went) meanwhile: predicted again, or not at all
            sources[point_id] = source_xy
            candidate = result.predictions.get(point_id)
            if candidate is None:
                continue
            record = Prediction(run_id, candidate.xy, candidate.confidence)
            session.replace_point(result.pair_id, point_id, point.with_prediction(record, primary=True))
            side = candidate.template_side
            facts[point_id] = PointFacts(candidate.confidence, candidate.cycle_error, side, candidate.template)
        collection.record(result.pair_id, facts, sources)

    # ---- export ----

    def ask_export_coco(self) -> None:
        if self.collection is None:
            self._app.notices.notify("COCO keypoints of a collection: open one first (File > New collection).")
            return
        path, _ = QFileDialog.getSaveFileName(
            self._app.window, "Export COCO keypoints", self._app.files.last_folder, COCO_FILTER
        )
        if path:
            self.export_coco(Path(path))

    def export_coco(self, path: Path) -> Path | None:
        """Write the collection as COCO keypoints (template first, then every predicted image)."""
        collection = self.collection
        assert collection is not None
        document = to_document(self._app.session)
        if not document.pairs:
            self._app.notices.report_error("Nothing to export yet: no image has predictions.")
            return None
        try:
            written = write_collection_coco(document, collection.engine_template(), path.with_suffix(".json"))
        except (EngineError, OSError) as exc:
            self._app.notices.report_error(f"COCO export failed: {exc}")
            return None
        self._app.notices.notify(f"Exported {len(document.pairs)} image(s) as COCO keypoints to {written}.")
        return written

    # ---- display ----

    def _show_mode(self) -> None:
        window = self._app.window
        active = self.collection is not None
        window.review_dock.setVisible(active)
        if active:
            window.review_dock.raise_()
