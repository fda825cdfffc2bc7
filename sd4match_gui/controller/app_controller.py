"""The app's mediator: owns the session, wires window signals to the controllers, and after every
change redraws, asks the engine for fresh predictions and autosaves.

Flow of a click: ``PairCanvas.clicked`` -> :class:`AnnotationController` edits the session ->
:meth:`AppController.after_change` -> :class:`Presenter` draws the new marker at once,
:class:`ComputationController` submits a request, :class:`FileController` autosaves -> the worker
answers -> the computation controller stores the prediction -> ``updated`` -> redraw.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot

from engine import LoadedImage
from engine.errors import EngineError

from ..bundled_files import DEMO_PAIR
from ..gui_thread_gc import GuiThreadGarbageCollector
from ..main_window import MainWindow
from ..model.datasets import ground_truth_points
from ..model.session import Session
from ..preferences import AppPreferences, PreferenceStore
from ..views.pair_canvas import SOURCE
from ..worker.engine_client import EngineClient
from ..worker.messages import WeightsStatus
from .annotation import AnnotationController
from .computation import ComputationController
from .files import FileController
from .heatmap_export import HeatmapExport
from .hover_preview import HoverPreviewController
from .pair_images import PairImages, image_ref
from .prefetch import PrefetchPlanner
from .presenter import Presenter
from .settings_actions import SettingsActions
from .status_progress import StatusProgress
from .tuning import TuningController

ZOOM_HALF_SIZE = 48.0  # pixels shown around the current point by "zoom both"
MESSAGE_MS = 6000
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
    """

    def __init__(self, window: MainWindow, client: EngineClient, store: PreferenceStore) -> None:
        super().__init__()
        self.window = window
        self.client = client
        self.store = store
        self.preferences: AppPreferences = store.load()
        self.session = Session(self.preferences.settings)
        self.images = PairImages()
        self.current_images: tuple[LoadedImage, LoadedImage] | None = None
        self._shown_pair: str | None = None
        self._banner_action: Callable[[], object] | None = None
        self._engine_error_shown = False  # the banner shows an engine failure, cleared once it is fixed
        self._shut_down = False
        self.computation = ComputationController(
            client, lambda: self.session, lambda: self.current_images, lambda: self.preferences.engine_config()
        )
        self.hover = HoverPreviewController(
            client, lambda: self.session, lambda: self.current_images, lambda: not self.computation.idle
        )
        self.presenter = Presenter(window, self.computation, self.hover)
        self.prefetch = PrefetchPlanner(
            client, lambda: self.session, lambda: self.preferences.engine_config(), self.computation.needing_weights
        )
        self.annotation = AnnotationController(lambda: self.session, self.after_change, self.notify)
        self.files = FileController(
            window,
            lambda: self.session,
            self.replace_session,
            self.notify,
            self.report_error,
            self.offer,
            lambda: self.preferences.autosave,
            lambda path: self.heatmap_export.start(path),
        )
        self.files.last_folder = self.preferences.last_folder
        self.settings = SettingsActions(self)
        self.tuning = TuningController(self)
        self.heatmap_export = HeatmapExport(self)
        self.status_progress = StatusProgress(
            window, self.computation, self.presenter, lambda: self.session, self.files.loader
        )
        self._wire()
        store.restore_window(window)
        window.before_close = self.shutdown
        self._collector = GuiThreadGarbageCollector(window)
        self._collector.start()
        self.settings.show_settings()
        client.check_weights(self.preferences.engine_config())

    # ---- public API ----

    def open_demo(self) -> None:
        self.files.open_images(*DEMO_PAIR)

    def replace_session(self, session: Session) -> None:
        """Install a session (new, opened or imported) and show its open pair."""
        if self._banner_action is not None:  # an offer to open something is moot now
            self._banner_action = None
            self.window.message_banner.hide()
        self.session = session
        self._shown_pair = None
        self.computation.heatmaps.clear()
        self.settings.show_settings()
        self.after_change()

    def after_change(self) -> None:
        """Redraw, ask the engine, autosave: called after every action that changes the session."""
        self._show_pair_if_changed()
        self.presenter.render(self.session)
        self.computation.request()
        self.prefetch.refresh()  # the pairs ahead, computed when the engine is idle
        self.presenter.show_request_state(self.session)  # e.g. a recompute marks the drawn results stale
        self.hover.refresh()
        self.files.autosave()
        self._update_undo_texts()

    def notify(self, text: str) -> None:
        self.window.statusBar().showMessage(text, MESSAGE_MS)

    def report_error(self, text: str) -> None:
        """Show an error without blocking (a banner above the images)."""
        self._banner_action = None
        self._engine_error_shown = False
        self.window.message_banner.show_message(text, "error")

    def offer(self, text: str, button: str, action: Callable[[], object], details: str = "") -> None:
        """A non-blocking question: ``text`` (one line; ``details`` on demand) with a ``button`` that
        runs ``action``."""
        self._banner_action = action
        self._engine_error_shown = False
        self.window.message_banner.show_message(text, "info", button, details)

    def offer_start(self) -> None:
        """With nothing opened: offer an earlier untitled session left behind, else the demo pair."""
        recovery = self.files.recovery_offer()
        if recovery is not None:
            self.offer(*recovery)
        else:
            self.offer(START_HINT, "Open demo pair", self.open_demo)

    def go_to_pair(self, step: int) -> None:
        if self.session.go_to(self.session.current_index + step):
            self.after_change()
        elif self.session.pairs:
            self.notify("No more pairs in this direction.")

    def shutdown(self) -> bool:
        """Save everything and stop the engine thread; returns True (closing may proceed)."""
        if self._shut_down:
            return True
        self._shut_down = True
        self.preferences = self.preferences.replace(settings=self.session.settings, last_folder=self.files.last_folder)
        self.store.save(self.preferences)
        self.store.save_window(self.window)
        self.files.close()
        self.heatmap_export.cancel()  # a late answer must not write files for a closed window
        self.client.shutdown()
        self._collector.stop()
        return True

    # ---- pairs ----

    def _show_pair_if_changed(self) -> None:
        pair = self.session.pair
        if pair is None or pair.pair_id == self._shown_pair:
            return
        self._shown_pair = pair.pair_id
        self.computation.forget_errors()
        self.hover.clear()  # previews of the other pair's images
        try:
            images = (self.images.load(pair.source), self.images.load(pair.target))
        except EngineError as exc:
            self.current_images = None
            self.report_error(str(exc))
            return
        self.current_images = images
        for image in images:
            self.session.images[image.path.resolve()] = image_ref(image)
        if pair.ground_truth and not self.session.points():
            self.session.set_points(pair.pair_id, ground_truth_points(pair))
        self.lay_out_targets(force=True)
        position = f"{self.session.current_index + 1}/{len(self.session.pairs)}"
        self.window.setWindowTitle(f"SD4Match — {pair.title}  ({position})")

    def lay_out_targets(self, force: bool = False) -> None:
        """One target panel per active variant; (re)load images into panels that are new."""
        canvas = self.window.canvas
        changed = canvas.set_target_count(len(self.session.settings.active_variants()))
        if self.current_images is None or not (changed or force):
            return
        if force:
            canvas.source.set_image(self.current_images[0].rgb)
        for panel in canvas.targets:
            panel.set_image(self.current_images[1].rgb)

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
        self.hover.changed.connect(lambda: self.presenter.show_heatmaps(self.session))
        window.points_table.point_selected.connect(self.annotation.select)
        window.points_table.label_edited.connect(self.annotation.set_label)
        window.compare_panel.point_selected.connect(self.annotation.select)
        window.message_banner.action_clicked.connect(self._run_banner_action)
        self.computation.updated.connect(self._on_results)
        self.computation.error.connect(self._on_engine_error)
        self.computation.errors_cleared.connect(self._on_engine_errors_cleared)
        self.client.worker.weights.connect(self._on_weights)
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
            "cancel": self.computation.cancel,
            "tune_prompt": self.tuning.open_dialog,
        }
        for visibility in (0, 1, 2):
            connections[f"visibility_{visibility}"] = lambda *_, v=visibility: self.annotation.set_visibility(v)
        for name, (dx, dy) in {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.items():
            connections[f"nudge_{name}"] = lambda *_, dx=dx, dy=dy: self._nudge(dx, dy)
        for name, slot in connections.items():
            actions[name].triggered.connect(slot)
        self.settings.wire()

    def zoom_to_current(self) -> None:
        """OpenSfM's "zoom all views on the current point": source and targets centre on it."""
        point = self.session.selected_point
        if point is None:
            self.notify("Select a point to zoom to.")
            return
        canvas = self.window.canvas
        canvas.source.zoom_to(point.src_xy, ZOOM_HALF_SIZE)
        for panel in canvas.targets:
            panel.zoom_to(point.trg_xy or point.src_xy, ZOOM_HALF_SIZE)

    def _nudge(self, dx: float, dy: float) -> None:
        if self.current_images is not None:
            target = self.current_images[1]
            self.annotation.nudge(dx, dy, (target.width, target.height))

    def _update_undo_texts(self) -> None:
        """Name the step in the tooltip (changing the text itself would re-lay out the toolbar at
        every click)."""
        history, actions = self.session.history, self.window.actions
        for name, text in (("undo", history.undo_text), ("redo", history.redo_text)):
            tip = f"{name.capitalize()} {text}" if text else f"Nothing to {name}"
            if actions[name].toolTip() != tip:
                actions[name].setToolTip(tip)
            if actions[name].isEnabled() != (text is not None):
                actions[name].setEnabled(text is not None)

    # ---- slots ----

    @Slot()
    def _on_results(self) -> None:
        self.presenter.render(self.session)
        self.hover.refresh()  # features that were missing may be ready now
        self.files.autosave_later()

    @Slot(str)
    def _on_engine_error(self, text: str) -> None:
        self.report_error(text)
        self._engine_error_shown = True

    @Slot()
    def _on_engine_errors_cleared(self) -> None:
        """The requests that failed have since succeeded (or another pair is open): the error is moot."""
        if self._engine_error_shown:
            self._engine_error_shown = False
            self.window.message_banner.hide()

    @Slot(object)
    def _on_weights(self, status: WeightsStatus) -> None:
        self.settings.on_weights(status)

    def _run_banner_action(self) -> None:
        action, self._banner_action = self._banner_action, None
        self.window.message_banner.hide()
        if action is not None:
            action()

    def _show_cursor(self, panel: int, x: float, y: float) -> None:
        side = "source" if panel == SOURCE else "target"
        self.window.cursor_label.setText(f"{side}  x {x:.1f}  y {y:.1f} px")
