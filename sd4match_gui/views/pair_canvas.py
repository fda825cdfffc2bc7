"""Source on the left, one or more target views on the right (a grid in comparison mode).

All panels live in one pyqtgraph scene so that :class:`ConnectionLines` can join them. Panel
index -1 is the source; targets are numbered from 0 in grid order (row by row).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Signal

from .connection_lines import ConnectionLines
from .coords import from_view, inside_image
from .image_panel import ImagePanel

SOURCE = -1


class PairCanvas(pg.GraphicsLayoutWidget):
    """The image area of the main window.

    Signals (coordinates in engine pixels; ``panel`` is -1 for the source, else a target index):
        clicked(panel, x, y): a click on an image, away from markers.
        marker_clicked(panel, key), marker_dropped(panel, key, x, y): marker gestures.
        cursor_moved(panel, x, y): the cursor is over a pixel of an image.
        cursor_left(): it is not (anywhere else, or the image under it was replaced): for the
            status bar's readout and the hover preview.
    """

    clicked = Signal(int, float, float)
    marker_clicked = Signal(int, int)
    marker_dropped = Signal(int, int, float, float)
    cursor_moved = Signal(int, float, float)
    cursor_left = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground((30, 30, 30))
        self.source = ImagePanel("source")
        self._connect(self.source, SOURCE)
        self.targets: list[ImagePanel] = []
        self.lines = ConnectionLines(self.source.view)
        self.scene().addItem(self.lines)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.set_target_count(1)

    @property
    def holding(self) -> bool:
        """Whether the canvas keeps its pixels (:meth:`hold_paint`)."""
        return not self.viewport().updatesEnabled()

    def hold_paint(self) -> None:
        """Keep the canvas's pixels until :meth:`release_paint`: items change meanwhile as usual,
        only their drawing waits (``controller/answer_wait.py`` bounds how long)."""
        self.viewport().setUpdatesEnabled(False)

    def release_paint(self) -> None:
        """Draw what changed during a hold: one repaint of the whole canvas (nothing without a hold).

        The scene hands its changed items to the view in a queued call; that call runs first, while
        the hold still stands, or it would repaint them a second time after the full repaint."""
        if self.holding:
            QCoreApplication.sendPostedEvents(self.scene(), QEvent.Type.MetaCall)
            self.viewport().setUpdatesEnabled(True)

    def panel(self, index: int) -> ImagePanel:
        return self.source if index == SOURCE else self.targets[index]

    def set_target_count(self, count: int) -> bool:
        """Lay out ``count`` target panels (a near-square grid); False if nothing changed.

        New panels are blank: the caller sets their images again.
        """
        if count == len(self.targets):
            return False
        self.ci.clear()
        columns = max(1, math.ceil(math.sqrt(count)))
        rows = max(1, math.ceil(count / columns))
        self.ci.addItem(self.source, row=0, col=0, rowspan=rows)
        self.targets = []
        for index in range(count):
            panel = ImagePanel("target")
            self._connect(panel, index)
            self.lines.watch(panel.view)
            self.ci.addItem(panel, row=index // columns, col=1 + index % columns)
            self.targets.append(panel)
        layout = self.ci.layout
        layout.setColumnStretchFactor(0, columns)
        for column in range(1, columns + 1):
            layout.setColumnStretchFactor(column, 1)
        return True

    def fit_all(self) -> None:
        for panel in (self.source, *self.targets):
            panel.fit()

    def _connect(self, panel: ImagePanel, index: int) -> None:
        panel.image_changed.connect(self.cursor_left)  # a readout of the old image would be wrong
        view = panel.view
        view.clicked.connect(lambda x, y: self.clicked.emit(index, x, y))
        view.marker_clicked.connect(lambda key: self.marker_clicked.emit(index, key))
        view.marker_dropped.connect(lambda key, x, y: self.marker_dropped.emit(index, key, x, y))

    def leaveEvent(self, event: QEvent) -> None:
        """The cursor jumped off the canvas (onto a dock, a menu): no move inside reports that."""
        self.cursor_left.emit()
        super().leaveEvent(event)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        for index, panel in ((SOURCE, self.source), *enumerate(self.targets)):
            if panel.view.sceneBoundingRect().contains(scene_pos):
                xy = from_view(panel.view.mapSceneToView(scene_pos))
                if inside_image(xy, *panel.view.image_size):
                    self.cursor_moved.emit(index, *xy)
                    return
                break
        self.cursor_left.emit()
