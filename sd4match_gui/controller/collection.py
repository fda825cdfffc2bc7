"""Collection mode: a template's keypoints propagated onto many images, reviewed in a queue.

* **New collection** (File menu): the template (the open pair's source with its points, or an
  image file) and the images. The session becomes one pair *template -> image* per image, every
  pair holding the template's points (see :mod:`sd4match_gui.model.collection`).
* **Propagation** runs on the engine thread one image at a time (the next request leaves when the
  previous answer arrives, so clicks are computed in between); answers fill the pairs' points as
  they arrive (:meth:`AppModel.apply_propagation`). Reviewed images join the templates (best
  prediction wins). Cancel stops after the image in flight; Resume (which also retries failed
  images), any template edit, or reopening the session goes on with what is left. A change of the
  primary variant's settings (backend, variant, ensemble, localisation) makes every unreviewed
  prediction stale: those points are propagated again, reviewed ones are kept.
* **Template edits**: the pairs' sources mirror the template, so a point added, moved, renamed or
  deleted on the source of any pair is applied to every pair (:meth:`AppModel.mirror_template`: a
  moved point keeps the targets a person approved; it is predicted again elsewhere; a deleted one
  goes from every image).
* **Review**: :class:`~sd4match_gui.controller.review_queue.ReviewQueue` (the Review dock's rows,
  the jumps to what needs a look, bulk accept and clear).
* **Names**: :class:`~sd4match_gui.controller.labels.LabelController` (the Keypoints dock).
* **Export**: COCO keypoints (:func:`engine.collections.coco.write_collection_coco`); the usual
  Export writes the sd-correspondence document (one pair per template -> image).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QFileDialog

from engine.collections.coco import write_collection_coco
from engine.collections.schema import KeypointSchema, numbered_schema
from engine.collections.template import TemplatePoint
from engine.errors import EngineError

from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..model.collection import Collection, CollectionImage
from ..model.pairs import PairEntry, pair_id_for
from ..model.session import Session
from ..model.session_file import to_document
from ..model.settings import SessionSettings
from ..views.new_collection_dialog import NewCollectionDialog
from ..worker.engine_client import EngineClient
from ..worker.propagation_job import PropagationRequest, PropagationResult, TemplateImage
from .files import EXPORTS, IMAGES, FileController
from .labels import LabelController
from .notices import Notices
from .review_queue import ReviewQueue

COCO_FILTER = "COCO keypoints (*.json)"


class CollectionController(QObject):
    """Everything collection mode adds to the window; it follows the model's events.

    Args:
        window: the docks (Keypoints, Review), the actions, the dialogs' parent.
        model: the app model (the collection is ``model.collection``).
        client: the engine thread (propagation requests and answers).
        notices: the status bar and message banner.
        files: opens the collection's new session; its last folder starts the file dialogs.

    Attributes:
        running: propagation goes on while there is an image left (False after Cancel).
        in_flight: the request the engine is computing, or None.
        answered: propagation answers applied (tests and the benchmark count them).
        labels: the Keypoints dock (controller/labels.py).
        review: the review queue (controller/review_queue.py).
    """

    def __init__(
        self, window: MainWindow, model: AppModel, client: EngineClient, notices: Notices, files: FileController
    ) -> None:
        super().__init__()
        self._window = window
        self._model = model
        self._client = client
        self._notices = notices
        self._files = files
        self.labels = LabelController(window, window.label_panel, model, notices, files)
        self.review = ReviewQueue(
            window.review_panel,
            window.collection_label,
            window.actions,
            model,
            notices,
            lambda: self.running,
            self._propagate_again,
        )
        self.running = False
        self.in_flight: PropagationRequest | None = None
        self.answered = 0
        self._job_id = 0
        self._dialog: NewCollectionDialog | None = None
        client.worker.propagated.connect(self._on_propagated)
        model.session_replaced.connect(self._on_session_replaced)
        model.edited.connect(self._on_edited)
        model.engine_changed.connect(self._on_edited)
        model.settings_changed.connect(self._on_settings_changed)
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
        return self._model.collection

    # ---- model events ----

    def _on_session_replaced(self, session: Session) -> None:
        """Another session: drop answers for the previous one, go on propagating this one."""
        self._restart_job()
        collection = session.collection
        for image in collection.images if collection is not None else ():
            # A file keeps only the pairs with a target read (their points); the others get the
            # template's points again, as a new collection's pairs do, or their answers had no point to land on.
            if not session.points(image.pair_id):
                session.set_points(image.pair_id, collection.template_copies())
        self.running = session.collection is not None
        self._show_mode()
        self._on_edited()

    def _on_edited(self, _description: str = "") -> None:
        """An edit of the open pair: mirror template edits onto every image, go on propagating."""
        if self._model.mirror_template():
            self.running = True
        self._pump()
        self.review.refresh_soon()

    def _on_settings_changed(self, old: SessionSettings, new: SessionSettings) -> None:
        """Predictions of another primary variant (or localisation) than now set are stale: the
        unreviewed ones are propagated again; reviewed and corrected points stay as they are."""
        collection = self.collection
        if collection is None or self._propagation_settings(old) == self._propagation_settings(new):
            return
        session = self._model.session
        stale = collection.forget_unreviewed({i.pair_id: session.points(i.pair_id) for i in collection.images})
        self._restart_job()  # the image in flight, if any, was asked with the old settings
        if stale:
            self._notices.notify(f"Settings changed: {stale} unreviewed prediction(s) are propagated again.")
        self.running = True  # stops by itself when nothing is left
        self._pump()
        self.review.refresh_queue()

    @staticmethod
    def _propagation_settings(settings: SessionSettings) -> tuple:
        return settings.active_variants()[0], settings.localisation

    # ---- new collection ----

    def ask_new_collection(self) -> None:
        session = self._model.session
        pair = session.pair
        points = len(session.points()) if pair is not None else 0
        self._dialog = NewCollectionDialog(
            points, pair.source.name if pair else "none", self._files.folder_for(IMAGES), self._window
        )
        self._dialog.finished.connect(self._dialog_finished)
        self._dialog.open()

    def _dialog_finished(self, result: int) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is not None and result == QDialog.DialogCode.Accepted:
            if dialog.folder:
                self._files.remember_folder(IMAGES, Path(dialog.folder))
            self.new_collection(dialog.template_path(), dialog.target_paths())

    def new_collection(self, template: Path | None, targets: Sequence[Path]) -> bool:
        """Open a collection: ``template`` an image file, or None for the open pair's source with its
        points; ``targets`` image files and folders. False (and an error shown) when they do not do."""
        from engine.collections.propagate import find_targets  # torch: loads with the first collection

        session = self._model.session
        try:
            if not targets:
                raise EngineError("choose the images to annotate (files or a folder)")
            images = find_targets(list(targets))
            if template is None:
                if session.pair is None or not session.points():
                    raise EngineError(
                        "the open pair's source has no points: label it first, or choose a template image"
                    )
                template_path = session.pair.source.resolve()
                schema, points = self._template_from_source()
            else:
                if not template.is_file():
                    raise EngineError(f"template image '{template}' does not exist")
                template_path = template.resolve()
                schema = self.labels.labelling.schema or numbered_schema(10)
                points = {}
        except EngineError as exc:
            self._notices.report_error(str(exc))
            return False
        images = [path.resolve() for path in images if path.resolve() != template_path]
        if not images:
            self._notices.report_error("No image to annotate besides the template.")
            return False
        pairs, taken = [], set()
        for path in images:
            pair_id = pair_id_for(template_path, path, taken)
            taken.add(pair_id)
            pairs.append(PairEntry(pair_id, template_path, path))
        collection = Collection(schema, template_path, [CollectionImage(p.pair_id, p.target) for p in pairs])
        collection.template = points

        def fill(new: Session) -> None:
            for pair in pairs:
                new.set_points(pair.pair_id, collection.template_copies())
            new.collection = collection

        message = f"New collection: {len(pairs)} image(s) from template {template_path.name}."
        self._files.open_pairs(pairs, message=message, fill=fill, carries_over=self._source_work_only(template))
        return True

    def _source_work_only(self, template: Path | None) -> bool:
        """Whether a collection made from ``template`` holds all the open session's work: its template
        is the open pair's source with its points (names, positions), and no other pair has points
        and no target there is one a person placed or accepted (predictions are made again)."""
        session = self._model.session
        if template is not None or session.pair is None:
            return False
        if set(session.annotated_pair_ids()) - {session.pair.pair_id}:
            return False
        return not any(point.approved or point.visibility != 2 for point in session.points())

    def _template_from_source(self) -> tuple[KeypointSchema, dict[int, TemplatePoint]]:
        """The schema and template points of the open pair's source: the names in use when every point
        carries one of them, else the points' own labels, else numbered names."""
        points = self._model.session.points()
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

    # ---- propagation ----

    def resume(self) -> None:
        """Go on propagating what is left, failed images included (they are tried again)."""
        collection = self.collection
        if collection is None:
            self._notices.notify("Open a collection first (File > New collection).")
            return
        retried = collection.retry_failed()
        if retried:
            self._notices.notify(f"Trying {len(retried)} failed image(s) again.")
        self.running = True
        self._pump()
        self.review.refresh_queue()

    def _propagate_again(self) -> None:
        """An image was cleared: predict it again."""
        self.running = True
        self._pump()
        self.review.refresh_queue()

    def cancel(self) -> None:
        """Stop propagating after the image in flight (its answer is still applied)."""
        if self.running:
            self.running = False
            self._notices.notify("Propagation stopped; Go > Resume propagation goes on with the rest.")
            self.review.refresh_queue()

    def _restart_job(self) -> None:
        """Answers of requests sent so far are dropped when they arrive."""
        self._job_id += 1
        self.in_flight = None

    def _pump(self) -> None:
        """Send the next image to the engine when nothing is in flight."""
        collection = self.collection
        if collection is None or not self.running or self.in_flight is not None:
            return
        pending = [image for image in collection.images if collection.missing(image)]
        if not pending:
            self.running = False
            return
        session = self._model.session
        current = session.pair
        image = next((i for i in pending if current is not None and i.pair_id == current.pair_id), pending[0])
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
            engine=self._model.preferences.engine_config(),
            thresholds=collection.thresholds,
        )
        self._client.propagate(self.in_flight)

    @Slot(object)
    def _on_propagated(self, result: PropagationResult) -> None:
        request, collection = self.in_flight, self.collection
        if request is None or result.job_id != self._job_id or result.pair_id != request.pair_id:
            return
        self.in_flight = None
        self.answered += 1
        if collection is not None:  # both emit collection_changed: the app redraws and autosaves
            if result.error:
                collection.fail(result.pair_id, result.error)
            else:
                template = request.templates[0].points
                asked = {i: template[i] for i in request.point_ids if i in template}
                refs = [ref for ref in (result.template_ref, result.target_ref) if ref is not None]
                self._model.apply_propagation(result.pair_id, asked, result.predictions, result.run, refs)
                self._fail_if_not_stored(result.pair_id, asked)
        self._pump()

    def _fail_if_not_stored(self, pair_id: str, asked: dict[int, tuple[float, float]]) -> None:
        """An answer for template points that have not moved must have been stored; if the image
        still misses them, asking again would loop for ever: mark the image failed instead."""
        collection = self.collection
        image = collection.image(pair_id) if collection is not None else None
        if collection is None or image is None:
            return
        template = collection.template
        unmoved = {i for i, xy in asked.items() if i in template and template[i].xy == xy}
        if unmoved & set(collection.missing(image)):
            collection.fail(pair_id, "its predictions had no point to land on (Go > Resume tries again)")

    # ---- export ----

    def ask_export_coco(self) -> None:
        if self.collection is None:
            self._notices.notify("COCO keypoints of a collection: open one first (File > New collection).")
            return
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Export COCO keypoints", self._files.folder_for(EXPORTS), COCO_FILTER
        )
        if path:
            self._files.remember_folder(EXPORTS, Path(path).parent)
            self.export_coco(Path(path))

    def export_coco(self, path: Path) -> Path | None:
        """Write the collection as COCO keypoints (template first, then every predicted image)."""
        collection = self.collection
        assert collection is not None
        document = to_document(self._model.session)
        if not document.pairs:
            self._notices.report_error("Nothing to export yet: no image has predictions.")
            return None
        try:
            written = write_collection_coco(document, collection.engine_template(), path.with_suffix(".json"))
        except (EngineError, OSError) as exc:
            self._notices.report_error(f"COCO export failed: {exc}")
            return None
        images = len(document.pairs)  # the file has the template too
        self._notices.notify(f"Exported the template and {images} image(s) as COCO keypoints to {written}.")
        return written

    # ---- display ----

    def _show_mode(self) -> None:
        active = self.collection is not None
        self._window.review_dock.setVisible(active)
        self._window.collection_label.setVisible(active)
        if active:
            self._window.review_dock.raise_()
