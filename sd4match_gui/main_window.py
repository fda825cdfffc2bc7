"""The main window: layout, menus, toolbar, docks and status bar. No behaviour of its own.

The controller connects to the widgets and actions exposed here (``canvas``, ``engine_panel``,
``points_table``, ``compare_panel``, ``actions[name]`` ...).

The images get most of the window at any size: the Points and Comparison docks share one tabbed
column on the right (Comparison only shows in comparison mode), the right column takes about a
quarter of the width, and below :data:`COMPACT_WIDTH` the Engine dock joins that column as a third
tab instead of taking its own column on the left. Every dock can be shown again from View > Panels.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QScreen
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .actions import ACTIONS, MENUS
from .model.settings import COLOUR_MAPS
from .views.banner import Banner
from .views.compare_panel import ComparePanel
from .views.engine_panel import EnginePanel
from .views.label_dock import LabelDock
from .views.pair_canvas import PairCanvas
from .views.points_table import PointsTable
from .views.progress_widget import ProgressWidget
from .views.review_dock import ReviewDock
from .views.status_bar import StatusBar
from .views.text_entry import TextEntryKeys, TypingSafeDelegate
from .views.widgets import ElidedLabel, combo

TOOLBAR_ACTIONS = (
    "open_images",
    "open_session",
    "save_session",
    "export",
    None,
    "undo",
    "redo",
    None,
    "previous_pair",
    "next_pair",
    None,
    "fit",
    "zoom_current",
    "toggle_heatmap",
    "toggle_preview",
    "toggle_lines",
    "toggle_compare",
)
WINDOW_TITLE = "SD4Match"
CURSOR_TEXT_SAMPLE = "source x 999.9  y 999.9 px → target x 999.9  y 999.9 · confidence 0.00"
COMPACT_WIDTH = 1200  # narrower windows put the Engine dock in the right column's tabs
RIGHT_COLUMN_SHARE = 0.26  # of the window width, within RIGHT_COLUMN_WIDTH
RIGHT_COLUMN_WIDTH = (248, 440)
CURSOR_SHARE = 0.25  # of the window width at most, for the cursor's reading in the status bar
PROGRESS_TEXT_SHARE = 0.25  # of the window width at most, for a progress bar's step in words


DEFAULT_SIZE = QSize(1500, 860)
SCREEN_SHARE = 0.9  # of the screen's free area a first window may take


def default_size(screen: QScreen | None) -> QSize:
    """The size of a first window (no saved geometry): :data:`DEFAULT_SIZE`, or less on a screen
    that has no room for it, so that no part of the window starts off screen (a 1366 x 768 laptop)."""
    if screen is None:
        return DEFAULT_SIZE
    room = screen.availableGeometry().size() * SCREEN_SHARE
    return DEFAULT_SIZE.boundedTo(room)


class MainWindow(QMainWindow):
    """Attributes ``before_close`` (set by the controller) may veto closing by returning False."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(WINDOW_TITLE)
        self.before_close: Callable[[], bool] | None = None
        self.canvas = PairCanvas()
        self.weights_banner = Banner()
        self.message_banner = Banner()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.weights_banner)
        layout.addWidget(self.message_banner)
        layout.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        self.engine_panel = EnginePanel()
        self.points_table = PointsTable()
        self.points_table.setItemDelegate(TypingSafeDelegate(self.points_table))  # redraws keep a label being typed
        self.compare_panel = ComparePanel()
        engine_scroll = QScrollArea()  # a short window scrolls the form instead of squeezing it
        engine_scroll.setWidget(self.engine_panel)
        engine_scroll.setWidgetResizable(True)
        engine_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.engine_dock = self._dock("Engine", engine_scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.points_dock = self._dock("Points", self.points_table, Qt.DockWidgetArea.RightDockWidgetArea)
        self.compare_dock = self._dock("Comparison", self.compare_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.points_dock, self.compare_dock)
        self.compare_dock.hide()  # until comparison mode
        # Keypoint names (any mode) and a collection's review queue: tabs beside Points.
        self.label_panel = LabelDock()
        self.review_panel = ReviewDock()
        self.label_dock = self._dock("Keypoints", self.label_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.review_dock = self._dock("Review", self.review_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.points_dock, self.label_dock)
        self.tabifyDockWidget(self.points_dock, self.review_dock)
        self.review_dock.hide()  # until a collection opens
        self._comparing = False
        self._compact: bool | None = None  # the dock arrangement in place; None until the first resize

        self.actions = self._build_actions()
        # Typing in a text field edits the field even where a window shortcut has the same key; the
        # filter is a child of the window, so Qt removes it from the application with the window.
        self.text_entry_keys = TextEntryKeys(self)
        QApplication.instance().installEventFilter(self.text_entry_keys)
        self._build_menus()
        self.colormap = combo(COLOUR_MAPS, "Heatmap colour map")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip("Heatmap opacity")
        self._build_toolbar()

        # Status texts change at every hover and click: their widths must not follow the text, or
        # the neighbours shift and overlap (the cursor's reading has a width set by the window's, the
        # selection takes what is left). Every text is cut with "…" where the window is too narrow
        # for it, the whole text in its tooltip.
        self.cursor_label = ElidedLabel(hide_when_empty=True)
        # Its width is set (_fit_status_texts): a fixed policy makes the layout reserve it, where
        # the elided label's default would let the selection text lie over it. Off the images it is
        # empty and hidden, so a narrow window gives its room to the selection.
        self.cursor_label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.selection_label = ElidedLabel()
        self.pck_label = self._summary_label()  # the current variant's PCK on this pair, outside comparison mode
        self.collection_label = self._summary_label()  # a collection's image k of n and counts, in collection mode
        self.collection_label.hide()
        self.backend_label = QLabel()
        self.progress = ProgressWidget()
        self.loading = ProgressWidget("Stop waiting for it; the open session stays as it is.")
        status = StatusBar()
        self.setStatusBar(status)
        status.addWidget(self.cursor_label)
        self.cursor_label.setText("")  # hidden until the cursor is on an image
        status.addWidget(self.selection_label, 1)
        status.addPermanentWidget(self.pck_label)
        status.addPermanentWidget(self.collection_label)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.loading)
        status.addPermanentWidget(self.backend_label)
        self.resize(default_size(self.screen()))

    def show_comparison(self, active: bool) -> None:
        """Show the Comparison dock (in front of its tab group) on entering comparison mode, hide it
        on leaving; nothing while the mode stays as it is (a dock the user closed stays closed)."""
        if active == self._comparing:
            return
        self._comparing = active
        self.compare_dock.setVisible(active)
        if active:
            self.compare_dock.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange_docks()
        self._fit_status_texts()

    def _fit_status_texts(self) -> None:
        """Widths of the status bar's fixed texts, from the window's: the cursor's reading whole in
        a wide window, and room for the selection and the progress in a narrow one."""
        width = self.width()
        sample = self.cursor_label.fontMetrics().horizontalAdvance(CURSOR_TEXT_SAMPLE) + 8
        self.cursor_label.setFixedWidth(min(sample, round(CURSOR_SHARE * width)))
        for bar in (self.progress, self.loading):
            bar.set_text_width(round(PROGRESS_TEXT_SHARE * width))

    @staticmethod
    def _summary_label() -> ElidedLabel:
        """A permanent status text: as wide as its text while there is room, cut when there is not."""
        label = ElidedLabel()
        label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        return label

    def restoreState(self, state: QByteArray, version: int = 0) -> bool:
        """Restore a saved arrangement and keep it until the window crosses :data:`COMPACT_WIDTH`."""
        review_hidden = self.review_dock.isHidden()  # shown while a collection is open, not by the layout
        restored = super().restoreState(state, version)
        if restored:
            self._compact = self.width() < COMPACT_WIDTH
            self.compare_dock.setVisible(self._comparing)  # the mode decides, not the last session's layout
            self.review_dock.setHidden(review_hidden)
        return restored

    def _arrange_docks(self) -> None:
        """Put the Engine dock beside the images or in the right column's tabs when the window
        crosses :data:`COMPACT_WIDTH` (docks the user floated stay where they are), and give the
        right column its share of the width."""
        compact = self.width() < COMPACT_WIDTH
        if compact == self._compact:
            return
        self._compact = compact
        engine = self.engine_dock
        if not engine.isFloating():
            if compact:
                self.tabifyDockWidget(self.points_dock, engine)
            else:
                self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, engine)
        (self.compare_dock if self._comparing else self.points_dock).raise_()
        low, high = RIGHT_COLUMN_WIDTH
        right = min(max(round(RIGHT_COLUMN_SHARE * self.width()), low), high)
        self.resizeDocks([self.points_dock], [right], Qt.Orientation.Horizontal)
        if not compact:
            left = self.engine_panel.minimumSizeHint().width() + engine.widget().verticalScrollBar().sizeHint().width()
            self.resizeDocks([engine], [left], Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.before_close is not None and not self.before_close():
            event.ignore()
            return
        event.accept()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")  # saveState needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> dict[str, QAction]:
        actions = {}
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            shortcut = f" ({spec.shortcuts[0]})" if spec.shortcuts else ""
            action.setToolTip(spec.tip + shortcut)
            action.setStatusTip(spec.tip)
            action.setCheckable(spec.checkable)
            # Shortcuts work wherever the focus is in the window, including the docks.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
            actions[spec.name] = action
        return actions

    def _build_menus(self) -> None:
        menus = {name: self.menuBar().addMenu(f"&{name}") for name in MENUS}
        for spec in ACTIONS:
            menus[spec.menu].addAction(self.actions[spec.name])
        panels = menus["View"].addMenu("Panels")
        for dock in (self.engine_dock, self.points_dock, self.compare_dock, self.label_dock, self.review_dock):
            panels.addAction(dock.toggleViewAction())

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setObjectName("toolbar-main")
        for name in TOOLBAR_ACTIONS:
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.actions[name])
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Colours "))
        toolbar.addWidget(self.colormap)
        toolbar.addWidget(QLabel(" Opacity "))
        toolbar.addWidget(self.opacity)
        self.addToolBar(toolbar)
