"""The app's mediator: builds the model and the controllers of one main window, wires window
signals to the controllers, and subscribes to the model's events: after every change it redraws,
asks the engine for fresh predictions and autosaves.

Flow of a click: ``PairCanvas.clicked`` -> :class:`AnnotationController` edits the model ->
``AppModel.edited`` -> :meth:`AppController.after_change` -> :class:`ComputationController` submits a
request, :class:`FileController` autosaves -> the worker answers -> the computation controller applies
it to the model -> ``results.answered`` -> :class:`Presenter` redraws. When the query lane answers (in
milliseconds), the click is drawn only with its answer, in one frame of the images, and the panels
beside them and the autosave follow that frame (``answer_wait.py``, ``next_frame.py``).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject

from engine import LoadedImage
from engine.errors import EngineError

from ..bundled_files import DEMO_PAIR
from ..gui_thread_gc import GuiThreadGarbageCollector
from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..model.preferences import AppPreferences
from ..model.session import Session
from ..model.settings import SessionSettings
from ..preferences import PreferenceStore
from ..views.pair_canvas import SOURCE
from ..worker.engine_client import EngineClient
from .annotation import AnnotationController
from .answer_wait import AnswerWait
from .collection import CollectionController
from .computation import ComputationController
from .files import FileController
from .heatmap_export import HeatmapExport
from .hover_preview import HoverPreviewController
from .notices import Notices
from .pair_images import PairImages, image_ref
from .prefetch import PrefetchPlanner
from .presenter import Presenter
from .settings_actions import SettingsActions
from .status_progress import StatusProgress
from .tuning import TuningController

ZOOM_HALF_SIZE = 48.0  # pixels shown around the current point by "zoom both"
START_HINT = (
    "Open two images (Ctrl+O), a folder (Ctrl+Shift+O) or a session (Ctrl+Shift+L), or try the bundled pair. "
    "Then click a point on the source image. F1 lists every shortcut."
)


class AppController(QObject):
    """Everything behind one main window.

    Args:
        window: the views.
        client: the engine thread.
        store: where preferences live.

    Attributes:
        model: all state of the window (session, images, results, preferences, job).
    """

    def __init__(self, window: MainWindow, client: EngineClient, store: PreferenceStore) -> None:
        super().__init__()
        self.window = window
        self.client = client
        self.store = store
        self.model = AppModel(store.load())
        self.images = PairImages()
        self._shown_pair: str | None = None
        self._shut_down = False
        model = self.model
        self.notices = Notices(window)
        self.computation = ComputationController(client, model)
        self.hover = HoverPreviewController(client, model, self.computation)
        self.presenter = Presenter(window, model.results, self.hover)
        self.answer_wait = AnswerWait(
            window.canvas, lambda: self.presenter.render_canvas(self.model.session), self._after_edit_painted
        )
        self.annotation = AnnotationController(model, self.notices)
        self.settings = SettingsActions(window, model, client, self.notices)
        self.heatmap_export = HeatmapExport(window, model, client, self.notices)
        self.tuning = TuningController(window, model, client, self.notices, self.settings)
        self.files = FileController(window, model, self.notices, self.heatmap_export.start)
        self.files.last_folder = model.preferences.last_folder
        self.files.folders = dict(model.preferences.folders)
        self.status_progress = StatusProgress(window, self.presenter, model, self.files.loader, self.cancel)
        self.prefetch = PrefetchPlanner(client, model)
        self._subscribe()
        self._wire()
        # Collection mode: a model part (model.collection) with its docks, actions and propagation.
        self.collection = CollectionController(window, model, client, self.notices, self.files)
        self.annotation.source_click = self.collection.labels.source_click  # clicks place keypoint names
        self.collection.review.waits_for_answer = lambda: self.answer_wait.owed
        # The last run's review order (the dock's box tells the queue) and keypoint names.
        window.review_panel.least_confident_first.setChecked(model.preferences.least_confident_first)
        self.collection.labels.use_schema(model.preferences.schema, model.preferences.schema_choice)
        store.restore_window(window)
        window.before_close = self.shutdown
        self._collector = GuiThreadGarbageCollector(window)
        self._collector.start()
        self.settings.show_settings()
        self._update_undo_texts()  # nothing to undo before a pair is open
        client.check_weights(model.preferences.engine_config())

    # ---- the model, for scripts and tests ----

    @property
    def session(self) -> Session:
        return self.model.session

    @property
    def current_images(self) -> tuple[LoadedImage, LoadedImage] | None:
        return self.model.images

    @property
    def preferences(self) -> AppPreferences:
        return self.model.preferences

    @property
    def settled(self) -> bool:
        """Whether every view shows the model and the session is saved: nothing waits for an
        answer or for the next frame."""
        return self.answer_wait.settled and not self.collection.review.refresh_pending

    # ---- public API ----

    def open_demo(self) -> None:
        self.files.open_images(*DEMO_PAIR)

    def after_change(self, point_edit: bool = False) -> None:
        """Redraw, ask the engine, autosave: runs after every change of what is shown or computed.

        ``point_edit``: only points of the open pair changed (a click, a move, a selection): when
        the query lane takes the request, the views are updated, painted and saved once its answer
        is drawn (``answer_wait.py``).
        """
        session = self.model.session
        same_pair = not self._show_pair_if_changed()
        # Asked first, so that the engine computes while the window updates the rest.
        self.computation.request()
        if point_edit and same_pair and self.computation.answer_coming:
            # The lane answers in milliseconds: the edit is drawn with its answer and saved after.
            self.answer_wait.start()
            self.prefetch.refresh()
            self.hover.refresh()
        else:
            self.presenter.render(session)
            self.prefetch.refresh()  # the pairs ahead, computed when the engine is idle
            self.presenter.show_request_state(session)  # e.g. a recompute marks the drawn results stale
            self.hover.refresh()
            self.files.autosave()
        self._update_undo_texts()

    def cancel(self) -> None:
        """Stop the engine's work on the open pair, and the computing ahead until the next change."""
        self.computation.cancel()
        self.prefetch.pause()

    def offer_start(self) -> None:
        """With nothing opened: offer an earlier untitled session left behind, else the demo pair."""
        recovery = self.files.recovery_offer()
        if recovery is not None:
            self.notices.offer(*recovery)
        else:
            self.notices.offer(START_HINT, "Open demo pair", self.open_demo)

    def go_to_pair(self, step: int) -> None:
        session = self.model.session
        if not self.model.go_to(session.current_index + step) and session.pairs:
            self.notices.notify("No more pairs in this direction.")

    def shutdown(self) -> bool:
        """Save everything and stop the engine thread; returns True (closing may proceed)."""
        if self._shut_down:
            return True
        self._shut_down = True
        self.answer_wait.flush()  # an edit whose answer had not come yet
        preferences = self.model.preferences  # saved by _on_preferences_changed
        self.model.set_preferences(
            preferences.replace(
                settings=self.model.session.settings,
                last_folder=self.files.last_folder,
                folders=dict(self.files.folders),
                least_confident_first=self.collection.review.least_confident_first,
                schema_choice=self.collection.labels.pair_choice[0],
                schema=self.collection.labels.pair_choice[1],
            )
        )
        self.store.save_window(self.window)
        self.files.close()
        self.heatmap_export.cancel()  # a late answer must not write files for a closed window
        self.client.shutdown()
        self._collector.stop()
        return True

    # ---- pairs ----

    def _show_pair_if_changed(self) -> bool:
        """Load and lay out the open pair if another one was shown; whether it was."""
        model = self.model
        pair = model.session.pair
        if pair is None or pair.pair_id == self._shown_pair:
            return False
        self._shown_pair = pair.pair_id
        model.results.forget_errors()
        try:
            images = (self.images.load(pair.source), self.images.load(pair.target))
        except EngineError as exc:
            model.set_images(None)
            self.notices.report_error(str(exc))
            return True
        model.set_images(images)
        for image in images:
            model.session.images[image.path.resolve()] = image_ref(image)
        self.lay_out_targets(force=True)
        self._show_title()
        return True

    def _show_title(self, *_path: object) -> None:
        """The open pair, its place in the list and the session's file ("unsaved" before it has one)."""
        session = self.model.session
        if session.pair is None:
            return
        position = f"{session.current_index + 1}/{len(session.pairs)}"
        file = session.path.name if session.path is not None else "unsaved"
        self.window.setWindowTitle(f"SD4Match — {session.pair.title}  ({position}) · {file}")

    def lay_out_targets(self, force: bool = False) -> None:
        """One target panel per active variant; (re)load images into panels that are new."""
        canvas, images = self.window.canvas, self.model.images
        changed = canvas.set_target_count(len(self.model.session.settings.active_variants()))
        if images is None or not (changed or force):
            return
        if force:
            canvas.source.set_image(images[0].rgb)
        for panel in canvas.targets:
            panel.set_image(images[1].rgb)

    # ---- model events ----

    def _subscribe(self) -> None:
        model, results = self.model, self.model.results
        model.session_replaced.connect(self._on_session_replaced)
        model.edited.connect(self._on_edited)
        model.settings_changed.connect(self._on_settings_changed)
        model.preferences_changed.connect(self._on_preferences_changed)
        model.engine_changed.connect(self.after_change)
        model.collection_changed.connect(self._on_collection_changed)
        model.path_changed.connect(self._show_title)
        results.answered.connect(self._on_answered)
        self.computation.busy.connect(lambda busy: busy or self.answer_wait.end())  # no answer comes
        results.states_changed.connect(self._on_states_changed)
        results.error.connect(self.notices.report_engine_error)
        results.errors_cleared.connect(self.notices.engine_errors_cleared)

    def _on_session_replaced(self, _session: Session) -> None:
        self.notices.withdraw_offer()  # an offer to open something is moot now
        self._shown_pair = None
        self.after_change()

    def _on_edited(self, _description: str) -> None:
        self.after_change(point_edit=True)

    def _on_settings_changed(self, old: SessionSettings, new: SessionSettings) -> None:
        """Display options only redraw (and save lazily); anything else may change the variants."""
        if dataclasses.replace(old, display=new.display) == new:
            self.presenter.render(self.model.session)
            self.files.autosave_later()
            return
        self.lay_out_targets()
        self.after_change()

    def _on_preferences_changed(self, old: AppPreferences, new: AppPreferences) -> None:
        self.store.save(new)
        if new.engine_config() != old.engine_config() and not self._shut_down:
            self.client.check_weights(new.engine_config())
            self.after_change()

    def _on_answered(self, _variant: str) -> None:
        if self.answer_wait.owed:  # an edit waits for this answer: the images first, the rest after their frame
            self.presenter.render_canvas(self.model.session)
        else:
            self.presenter.render(self.model.session)
        self.answer_wait.end(drawn=True)
        self.hover.refresh()  # features that were missing may be ready now
        self.files.autosave_later()

    def _after_edit_painted(self) -> None:
        """What follows the frame that shows an edit and its answer (``answer_wait.py``)."""
        self.presenter.render_panels(self.model.session)
        self.collection.review.refresh_soon()
        self.files.autosave()

    def _on_collection_changed(self, pair_id: str | None) -> None:
        """Propagation answered for an image (saved lazily, like engine answers), or the whole
        collection changed (template, thresholds, names: saved now); the open image is redrawn."""
        pair = self.model.session.pair
        if pair_id is None or (pair is not None and pair.pair_id == pair_id):
            self.presenter.render(self.model.session)
        if pair_id is None:
            self.files.autosave()
        else:
            self.files.autosave_later()

    def _on_states_changed(self, names: tuple[str, ...]) -> None:
        """A failure or cancel shows in titles, tables and the selection line (progress does not
        redraw: the status bar shows it)."""
        states = self.model.results.states
        if any(states[name].failed for name in names):
            self.presenter.render(self.model.session)

    # ---- wiring ----

    def _wire(self) -> None:
        window, canvas, actions = self.window, self.window.canvas, self.window.actions
        canvas.clicked.connect(self.annotation.click)
        canvas.marker_clicked.connect(lambda _panel, key: self.annotation.select(key))
        canvas.marker_dropped.connect(self.annotation.drop)
        canvas.cursor_moved.connect(self._show_cursor)
        canvas.cursor_moved.connect(self.hover.cursor_moved)
        canvas.cursor_left.connect(lambda: window.cursor_label.setText(""))
        canvas.cursor_left.connect(self.hover.clear)
        self.hover.changed.connect(lambda: self.presenter.show_heatmaps(self.model.session))
        window.points_table.point_selected.connect(self.annotation.select)
        window.points_table.label_edited.connect(self.annotation.set_label)
        window.compare_panel.point_selected.connect(self.annotation.select)
        connections = {
            "open_images": self.files.ask_open_images,
            "open_folder": self.files.ask_open_folder,
            "open_pair_list": self.files.ask_open_pair_list,
            "open_dataset": self.files.ask_open_dataset,
            "open_demo": self.open_demo,
            "open_session": self.files.ask_open_session,
            "save_session": lambda: self.files.save_session(),
            "save_session_as": self.files.ask_save_session_as,
            "export": self.files.ask_export,
            "import": self.files.ask_import,
            "recover": self.files.ask_recover,
            "quit": window.close,
            "undo": self.annotation.undo,
            "redo": self.annotation.redo,
            "delete": self.annotation.delete_selected,
            "accept": lambda: self.annotation.set_status("accepted"),
            "reject": lambda: self.annotation.set_status("rejected"),
            "next_point": lambda: self.annotation.step_selection(1),
            "previous_point": lambda: self.annotation.step_selection(-1),
            "fit": canvas.fit_all,
            "zoom_current": self.zoom_to_current,
            "next_pair": lambda: self.go_to_pair(1),
            "previous_pair": lambda: self.go_to_pair(-1),
            "cancel": self.cancel,
            "tune_prompt": self.tuning.open_dialog,
        }
        for visibility in (0, 1, 2):
            connections[f"visibility_{visibility}"] = lambda *_, v=visibility: self.annotation.set_visibility(v)
        for name, (dx, dy) in {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.items():
            connections[f"nudge_{name}"] = lambda *_, dx=dx, dy=dy: self.annotation.nudge(dx, dy)
        for name, slot in connections.items():
            actions[name].triggered.connect(slot)
        self.settings.wire()

    def zoom_to_current(self) -> None:
        """OpenSfM's "zoom all views on the current point": source and targets centre on it."""
        point = self.model.session.selected_point
        if point is None:
            self.notices.notify("Select a point to zoom to.")
            return
        canvas = self.window.canvas
        canvas.source.zoom_to(point.src_xy, ZOOM_HALF_SIZE)
        for panel in canvas.targets:
            panel.zoom_to(point.trg_xy or point.src_xy, ZOOM_HALF_SIZE)

    def _update_undo_texts(self) -> None:
        """Name the step in the tooltip (changing the text itself would re-lay out the toolbar at
        every click)."""
        history, actions = self.model.session.history, self.window.actions
        for name, text in (("undo", history.undo_text), ("redo", history.redo_text)):
            text = text if self.session.pair is not None else None
            tip = f"{name.capitalize()} {text}" if text else f"Nothing to {name}"
            if actions[name].toolTip() != tip:
                actions[name].setToolTip(tip)
            if actions[name].isEnabled() != (text is not None):
                actions[name].setEnabled(text is not None)

    def _show_cursor(self, panel: int, x: float, y: float) -> None:
        side = "source" if panel == SOURCE else "target"
        self.window.cursor_label.setText(f"{side}  x {x:.1f}  y {y:.1f} px")
