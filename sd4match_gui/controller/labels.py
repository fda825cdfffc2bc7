"""Keypoint names on the source image: the Keypoints dock, auto-advance, "not visible".

With a schema chosen (pair mode) or a collection open (its schema), a click on the source places
the active name: a new point carrying that label, or, when the name is already placed, that point
moved there. The active name then advances to the next free one. Without a schema, clicks add
numbered points as before. "Not visible" names are skipped by auto-advance; in a collection they
are saved with it, in pair mode they belong to the source image for this run of the app.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from engine.collections.schema import COCO_PERSON, KeypointSchema, import_coco_schema, load_schema, numbered_schema
from engine.errors import EngineError
from engine.export.document import Keypoint

from ..model.app_model import AppModel
from ..model.labels import Labelling
from ..model.session import Session
from ..views.label_dock import LabelDock
from .files import SCHEMAS, FileController
from .notices import Notices

JSON_FILTER = "JSON (*.json);;All files (*)"


class LabelController:
    """Drives :class:`Labelling` from the dock and the source clicks; the dock follows the model.

    Args:
        parent: the file dialogs' parent.
        dock: the Keypoints dock.
        model: the app model (points are placed through its edits).
        notices: the status bar and message banner.
        files: where the schema file dialogs start (the folder they last used), and remember it.
    """

    def __init__(
        self, parent: QWidget, dock: LabelDock, model: AppModel, notices: Notices, files: FileController
    ) -> None:
        self._parent = parent
        self._dock = dock
        self._model = model
        self._notices = notices
        self._files = files
        self.labelling = Labelling()
        self._choice = "none"
        self._pair_schema: KeypointSchema | None = None  # the choice of pair mode, back after a collection
        self._hidden: dict[Path, set[str]] = {}  # pair mode: source image -> names marked not visible
        self._collection_shown: object = None
        self._placed_shown: set[str] = set()  # the names placed when the dock was last drawn
        dock.schema_chosen.connect(self.choose_schema)
        dock.name_chosen.connect(self.choose_name)
        dock.not_visible_clicked.connect(self.toggle_not_visible)
        self.labelling.changed.connect(self.refresh)
        model.session_replaced.connect(self._on_session_replaced)
        model.edited.connect(self._on_edited)
        model.collection_changed.connect(self._on_collection_changed)

    @property
    def pair_choice(self) -> tuple[str, KeypointSchema | None]:
        """The dock's choice for pair mode (kept while a collection fixes the names): its key and schema."""
        return self._choice, self._pair_schema

    @property
    def _session(self) -> Session:
        return self._model.session

    # ---- what is placed ----

    def placed(self) -> dict[str, int]:
        """Label -> point id of the open pair's named points."""
        return {p.label: p.id for p in self._session.points() if p.label}

    def hidden(self) -> set[str]:
        session = self._session
        if session.collection is not None:
            return session.collection.not_visible
        return self._hidden.get(session.pair.source, set()) if session.pair is not None else set()

    # ---- dock ----

    def choose_schema(self, key: str, count: int) -> None:
        """Use a schema choice of the dock (files are asked for)."""
        try:
            schema = self._schema_for(key, count)
        except EngineError as exc:
            self._notices.report_error(str(exc))
            self._dock.show_choice(self._choice, False)
            return
        if schema is False:  # the file dialog was cancelled
            self._dock.show_choice(self._choice, False)
            return
        self._choice, self._pair_schema = ("custom" if key.endswith("-file") else key), schema
        self.labelling.set_schema(schema, self.placed(), self.hidden())
        self.refresh()

    def use_schema(self, schema: KeypointSchema | None, key: str = "custom") -> None:
        self._choice, self._pair_schema = key, schema
        self.labelling.set_schema(schema, self.placed(), self.hidden())
        self.refresh()

    def choose_name(self, name: str) -> None:
        self.labelling.choose(name)
        point_id = self.placed().get(name)
        if point_id is not None:
            self._model.select(point_id)
        self.refresh()

    def toggle_not_visible(self) -> None:
        name = self.labelling.active
        session = self._session
        if name is None or session.pair is None:
            return
        if name in self.placed():
            self._notices.notify(f"'{name}' is placed: delete its point first to mark it not visible.")
            return
        hide = name not in self.hidden()
        if session.collection is not None:
            session.collection.set_not_visible(name, hide)  # saved on the model's collection_changed
        else:
            names = self._hidden.setdefault(session.pair.source, set())
            (names.add if hide else names.discard)(name)
        if hide:
            self.labelling.advance(self.placed(), self.hidden())
        self.refresh()

    # ---- clicks ----

    def source_click(self, x: float, y: float) -> bool:
        """Place the active name at (x, y) on the source; False when no schema is in use."""
        session = self._session
        if self.labelling.schema is None or session.pair is None:
            return False
        name = self.labelling.active
        if name is None:
            self._notices.notify(
                "Every keypoint is placed or not visible: choose one in the Keypoints dock to move it."
            )
            return True
        point_id = self.placed().get(name)
        if point_id is not None:
            self._model.move_point(point_id, (x, y))
        else:
            point = Keypoint(id=session.next_point_id(), src_xy=(x, y), label=name)
            self.labelling.advance({**self.placed(), name: point.id}, self.hidden())
            self._model.edit(f"add point {point.number} ({name})", point)  # redraws: advance first
        return True

    # ---- display ----

    def _on_session_replaced(self, session: Session) -> None:
        """A collection fixes the schema to its own; leaving one frees the choice again."""
        collection = session.collection
        if collection is not self._collection_shown:
            self._collection_shown = collection
            schema = collection.schema if collection is not None else self._pair_schema
            self.labelling.set_schema(schema, self.placed(), self.hidden())
        self.refresh()

    def _on_edited(self, _description: str) -> None:
        """A name freed by an edit (undo of its click, its point deleted) is the next click's again:
        the active name restarts from the first free one, as it does when nothing was active."""
        placed = self.placed()
        freed = self._placed_shown - placed.keys()
        if freed or self.labelling.active is None:
            self.labelling.advance(placed, self.hidden(), restart=True)
        self.refresh()

    def _on_collection_changed(self, pair_id: str | None) -> None:
        if pair_id is None:  # the template or its "not visible" names
            self.refresh()

    def refresh(self) -> None:
        labelling, collection = self.labelling, self._session.collection
        self._dock.show_choice(self._choice if collection is None else "custom", collection is not None)
        if labelling.schema is None:
            self._dock.show_names([], {}, None, "Choose names to label points by name; without, points are numbered.")
            return
        placed, hidden = self.placed(), self.hidden()
        self._placed_shown = set(placed)
        states = {name: f"point {point_id + 1}" for name, point_id in placed.items()}
        states |= {name: "not visible" for name in hidden}
        free = labelling.free(placed, hidden)
        active = labelling.active
        status = f"Next click: {active}. " if active else "Every keypoint is placed or not visible. "
        status += f"{len(free)} of {len(labelling.schema.keypoints)} left."
        self._dock.show_names(list(labelling.schema.keypoints), states, active, status)

    def _schema_for(self, key: str, count: int) -> KeypointSchema | bool | None:
        """The schema of a dock choice; False when the user cancelled a file dialog."""
        if key == "coco-person":
            return COCO_PERSON
        if key == "numbered":
            return numbered_schema(count)
        if key in ("coco-file", "schema-file"):
            title = "COCO keypoints file" if key == "coco-file" else "Keypoint schema"
            path, _ = QFileDialog.getOpenFileName(self._parent, title, self._files.folder_for(SCHEMAS), JSON_FILTER)
            if not path:
                return False
            self._files.remember_folder(SCHEMAS, Path(path).parent)
            return import_coco_schema(path) if key == "coco-file" else load_schema(path)
        if key == "custom":
            return self.labelling.schema
        return None
