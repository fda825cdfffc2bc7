"""One image with its heatmap, markers and title: the building block of the pair canvas.

The ViewBox keeps the aspect ratio, has y pointing down, zooms with the wheel and pans with a
left drag; a click (a press that did not become a drag) places or selects, a drag that starts on
a marker moves that marker instead of panning. Everything it emits is in engine pixels.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsItem

from engine.frames import GridFrame
from engine.heatmap import min_max, stretch_to_image

from .coords import clamp_to_image, from_view, heatmap_display, inside_image, to_view
from .markers import Z_MARKERS, Marker, MarkerLayer, PassiveScatter, open_crosshair

Z_HEATMAP = 10
PREVIEW_SIZE = 22  # screen pixels: larger than a marker, open in the middle, so the point under it stays visible
FIT_PADDING = 0.02
TITLE_MARGIN = 8  # screen pixels kept free beside an elided title
STALE_OPACITY = 0.35  # of markers and heatmap whose results belong to other settings (being recomputed)
# Longer side of the resampled heatmap: an image this size costs about 8 ms a click to resample;
# bigger photos share one display pixel among a few image pixels (48 cells stay smooth).
MAX_HEATMAP_SIDE = 1024


class PointViewBox(pg.ViewBox):
    """A ViewBox that turns clicks and marker drags into signals (engine pixels).

    Signals:
        clicked(x, y): a left click on the image, away from any marker.
        marker_clicked(key): a left click on a marker.
        marker_moved(key, x, y): a marker is being dragged (live).
        marker_dropped(key, x, y): the drag ended here.
    """

    clicked = Signal(float, float)
    marker_clicked = Signal(int)
    marker_moved = Signal(int, float, float)
    marker_dropped = Signal(int, float, float)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.markers = MarkerLayer(self)
        self.image_size = (0, 0)
        self._dragged: int | None = None

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            ev.ignore()
            return
        ev.accept()
        key = self.markers.hit(ev.scenePos())
        if key is not None:
            self.marker_clicked.emit(key)
            return
        xy = from_view(self.mapSceneToView(ev.scenePos()))
        if inside_image(xy, *self.image_size):
            self.clicked.emit(*xy)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            if ev.isStart():
                self._dragged = self.markers.hit(ev.buttonDownScenePos())
            if self._dragged is not None:
                ev.accept()
                xy = clamp_to_image(from_view(self.mapSceneToView(ev.scenePos())), *self.image_size)
                key = self._dragged
                if ev.isFinish():
                    self._dragged = None
                    self.marker_dropped.emit(key, *xy)
                else:
                    self.markers.move(key, xy)
                    self.marker_moved.emit(key, *xy)
                return
        super().mouseDragEvent(ev, axis)


class TitleLabel(pg.LabelItem):
    """A panel title that never widens its column: columns share the width by their stretch alone,
    so the tiles of one comparison have one size and a long title cannot push a view out of sight.
    A title wider than its column is elided in the middle, so that its start (the image or variant)
    and its end (what the engine is doing) both stay readable.

    Attributes:
        full_text: the whole title, whatever its column shows.
    """

    def __init__(self, text: str) -> None:
        self.full_text = text  # before the base class, whose set-up already resizes
        self._font: QFont | None = None
        super().__init__(text, size="10pt")
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self._font = QFont(self.item.font())
        self._font.setPointSizeF(10)

    def show_text(self, text: str) -> None:
        self.full_text = text
        self._fit()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev is not None:  # a new width (setText's own call passes None: no refit from within it)
            self._fit()

    def _fit(self) -> None:
        width = self.width() - TITLE_MARGIN
        text = self.full_text
        if width > 0 and self._font is not None:
            text = QFontMetricsF(self._font).elidedText(text, Qt.TextElideMode.ElideMiddle, width)
        if text != self.text:
            self.setText(text)

    def updateMin(self) -> None:
        super().updateMin()
        height = self.minimumHeight()
        self.setMinimumWidth(0)
        for hint in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
            self._sizeHint[hint] = (0, height)
        self.updateGeometry()


class ImagePanel(pg.GraphicsLayout):
    """Title above a :class:`PointViewBox` holding the image, the heatmap and the markers.

    Signals:
        image_changed(): :meth:`set_image` replaced the image.
    """

    image_changed = Signal()

    def __init__(self, title: str = "") -> None:
        super().__init__()
        self.setContentsMargins(2, 2, 2, 2)
        self._title = TitleLabel(title)
        self.addItem(self._title)
        self.nextRow()
        self.view = PointViewBox()
        self.addItem(self.view)
        self.image = pg.ImageItem()
        self.view.addItem(self.image)
        # A child of the image, clipped to it: a reduced map's outer half display pixels overhang the edges.
        self.image.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.heatmap = pg.ImageItem()
        self.heatmap.setParentItem(self.image)
        self.heatmap.setZValue(Z_HEATMAP)
        self.heatmap.setVisible(False)
        self._heatmap_enabled = True
        self._heatmap_opacity = 1.0
        self.stale = False  # markers and heatmap dimmed: results of other settings (set_stale)
        self.heatmap_scores: np.ndarray | None = None  # the last map drawn, for tests and screenshots
        # Redraws are frequent (every click, every variant's answer) and mostly keep the map and the
        # colours: resampling (1-8 ms) and re-colouring the full-size map happen only on a change.
        self._resampled: tuple[np.ndarray, GridFrame] | None = None
        self._colormap = ""
        # Where the hovered source pixel would land: not a marker (it cannot be clicked or dragged).
        self.preview = PassiveScatter(pxMode=True, symbol=open_crosshair(PREVIEW_SIZE), size=PREVIEW_SIZE, brush=None)
        self.preview.setZValue(Z_MARKERS + 2)
        self.preview.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.preview.setVisible(False)  # until there is a preview: an empty scatter still costs a repaint time
        self.view.addItem(self.preview)
        self.preview_xy: tuple[float, float] | None = None
        self._preview_colour: tuple[int, int, int] | None = None

    # ---- setters ----

    def set_title(self, text: str) -> None:
        if text != self._title.full_text:  # setText re-lays out the panel: skip when nothing changed
            self._title.show_text(text)

    @property
    def title(self) -> str:
        """The whole title (the panel may show it elided)."""
        return self._title.full_text

    def set_image(self, rgb: np.ndarray) -> None:
        """``H x W x 3`` uint8; fits the view."""
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.view.image_size = (rgb.shape[1], rgb.shape[0])
        self.fit()
        self.image_changed.emit()

    def set_markers(self, markers: list[Marker]) -> None:
        self.view.markers.set_markers(markers)

    def set_stale(self, stale: bool) -> None:
        """Dim the markers and the heatmap: they were computed for other settings than those asked
        (a recompute is running, or was cancelled) and are not to be read as current."""
        if stale == self.stale:
            return
        self.stale = stale
        self.view.markers.setOpacity(STALE_OPACITY if stale else 1.0)
        self.heatmap.setOpacity(self._heatmap_opacity * (STALE_OPACITY if stale else 1.0))

    def set_heatmap(self, scores: np.ndarray | None, frame: GridFrame | None = None) -> None:
        """Show ``h x w`` scores on the target, min-max normalised and resampled bilinearly (DIFT's
        display) so that cell (i, j) is centred on ``frame.grid_to_pixels``; None hides it."""
        self.heatmap_scores = scores
        if scores is None or frame is None:
            self.heatmap.setVisible(False)
            return
        if self._resampled is None or self._resampled[0] is not scores or self._resampled[1] != frame:
            display, rect = heatmap_display(frame, MAX_HEATMAP_SIDE)
            # Normalising the small map first costs 48 x 48 operations instead of H x W.
            smooth = stretch_to_image(min_max(scores.astype(np.float32)), display)
            self.heatmap.setImage(smooth, autoLevels=False, levels=(0.0, 1.0))
            self.heatmap.setRect(rect)
            self._resampled = (scores, frame)
        self.heatmap.setVisible(self._heatmap_enabled)

    def set_preview(self, xy: tuple[float, float] | None, colour: tuple[int, int, int] = (255, 255, 255)) -> None:
        """Show the hover preview's target point (engine pixels), or hide it with None."""
        if (xy, colour) == (self.preview_xy, self._preview_colour):
            return
        self.preview_xy, self._preview_colour = xy, colour
        self.preview.setVisible(xy is not None)
        if xy is None:
            self.preview.setData([], [])
            return
        view_xy = to_view(xy)
        pen = pg.mkPen(colour, width=2.5)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # square caps would reach into the clear centre
        self.preview.setData([view_xy.x()], [view_xy.y()], pen=pen)

    def set_heatmap_style(self, colormap: str, opacity: float, visible: bool) -> None:
        if colormap != self._colormap:  # a new lookup table re-colours the whole map
            self.heatmap.setColorMap(pg.colormap.get(colormap))
            self._colormap = colormap
        self._heatmap_opacity = opacity
        self.heatmap.setOpacity(opacity * (STALE_OPACITY if self.stale else 1.0))
        self._heatmap_enabled = visible
        self.heatmap.setVisible(visible and self.heatmap_scores is not None)

    # ---- navigation ----

    def fit(self) -> None:
        width, height = self.view.image_size
        if width and height:
            self.view.setRange(QRectF(0, 0, width, height), padding=FIT_PADDING)

    def zoom_to(self, xy: tuple[float, float], half_size: float) -> None:
        """Centre on ``xy`` (engine pixels) showing about ``2 * half_size`` pixels."""
        centre = to_view(xy)
        self.view.setRange(
            QRectF(centre.x() - half_size, centre.y() - half_size, 2 * half_size, 2 * half_size), padding=0
        )
