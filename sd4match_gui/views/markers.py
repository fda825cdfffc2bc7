"""Numbered point markers that keep their on-screen size at any zoom.

One ScatterPlotItem in pixel mode draws all symbols; one :class:`LabelLayer` draws all numbers in
screen pixels (a TextItem per point costs a transform update per point at every repaint).
Positions are engine pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from .coords import to_view

MARKER_SIZE = 11
SELECTED_SIZE = 17
HIT_RADIUS = 9.0  # screen pixels
Z_MARKERS = 20
LABEL_OFFSET = QPointF(7, -8)  # screen pixels from the marker centre to the label's bottom-left
LABEL_MARGIN = 48  # screen pixels a label may reach beyond its marker
LIGHT = 120  # label backgrounds lighter than this get black text, darker ones white

# How a marker's status shows: (symbol, filled).
STYLES = {
    "source": ("o", True),
    "predicted": ("o", False),
    "accepted": ("o", True),
    "corrected": ("s", True),
    "rejected": ("x", True),
    "reference": ("+", True),
}


@dataclass(frozen=True)
class Marker:
    """One point to draw.

    Attributes:
        key: the point id (what clicks and drags report back).
        xy: engine pixels.
        colour: RGB.
        text: the label next to it (usually the point number).
        style: a key of ``STYLES``.
        selected: drawn larger with a white rim.
    """

    key: int
    xy: tuple[float, float]
    colour: tuple[int, int, int]
    text: str
    style: str = "source"
    selected: bool = False


@lru_cache(maxsize=512)
def _pen_and_brush(colour: tuple[int, int, int], style: str, selected: bool) -> tuple:
    """Pens and brushes are shared between markers: creating them dominates a redraw otherwise."""
    symbol, filled = STYLES[style]
    hollow = not filled and not selected
    rim = (255, 255, 255) if selected else (0, 0, 0)
    pen = pg.mkPen(colour if hollow or symbol in "x+" else rim, width=3 if hollow else 1.5)
    return pen, pg.mkBrush(*colour, 0 if hollow else 230)


class PassiveScatter(pg.ScatterPlotItem):
    """A scatter that never takes clicks: pyqtgraph hands clicks to any item with this method,
    whatever its accepted buttons, and the ViewBox must get them to hit-test in screen pixels."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()


class LabelLayer(pg.GraphicsObject):
    """All marker labels of a view, painted in screen pixels on a tab of the marker's colour."""

    def __init__(self) -> None:
        super().__init__()
        self._labels: list[tuple[QPointF, str, QColor]] = []
        self._extent = QRectF()
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._font.setBold(True)
        self._metrics = QFontMetricsF(self._font)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_labels(self, markers: list[Marker]) -> None:
        self.prepareGeometryChange()
        self._labels = [(to_view(m.xy), m.text, QColor(*m.colour)) for m in markers if m.text]
        points = [position for position, _, _ in self._labels]
        self._extent = QRectF()
        for point in points:
            self._extent = self._extent.united(QRectF(point, point))
        self.update()

    def texts(self) -> list[str]:
        return [text for _, text, _ in self._labels]

    def boundingRect(self) -> QRectF:
        if not self._labels:
            return QRectF()
        size = self.pixelSize()  # view units per screen pixel
        if size is None or size[0] == 0:
            return QRectF()
        dx, dy = LABEL_MARGIN * size[0], LABEL_MARGIN * size[1]
        return self._extent.adjusted(-dx, -dy, dx, dy)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the margin is in screen pixels, so the bounds follow the zoom

    def paint(self, painter: QPainter, *args) -> None:
        transform = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self._font)
        for position, text, colour in self._labels:
            anchor = transform.map(position) + LABEL_OFFSET
            box = self._metrics.boundingRect(text).adjusted(-3, -1, 3, 1)
            box.moveBottomLeft(anchor)
            painter.fillRect(box, colour)
            painter.setPen(Qt.GlobalColor.black if colour.lightness() > LIGHT else Qt.GlobalColor.white)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class MarkerLayer:
    """Draws markers into a ViewBox and finds the one under a scene position."""

    def __init__(self, view: pg.ViewBox) -> None:
        self._view = view
        self._scatter = PassiveScatter(pxMode=True)
        self._scatter.setZValue(Z_MARKERS)
        self._scatter.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        view.addItem(self._scatter)
        self._labels = LabelLayer()
        self._labels.setZValue(Z_MARKERS + 1)
        view.addItem(self._labels)
        self.markers: list[Marker] = []

    def set_markers(self, markers: list[Marker]) -> None:
        if markers == self.markers:
            return  # redraws after each answer mostly leave a view's markers as they were
        self.markers = list(markers)
        styles = [_pen_and_brush(m.colour, m.style, m.selected) for m in self.markers]
        self._scatter.setData(
            x=[m.xy[0] + 0.5 for m in self.markers],  # engine pixel centres -> view coordinates
            y=[m.xy[1] + 0.5 for m in self.markers],
            size=[SELECTED_SIZE if m.selected else MARKER_SIZE for m in self.markers],
            symbol=[STYLES[m.style][0] for m in self.markers],
            pen=[pen for pen, _ in styles],
            brush=[brush for _, brush in styles],
            data=[m.key for m in self.markers],
        )
        self._labels.set_labels(self.markers)

    def move(self, key: int, xy: tuple[float, float]) -> None:
        """Move one marker (live feedback while dragging)."""
        self.set_markers([replace(m, xy=xy) if m.key == key else m for m in self.markers])

    def hit(self, scene_pos: QPointF) -> int | None:
        """Key of the marker nearest to ``scene_pos`` within HIT_RADIUS screen pixels."""
        best, best_distance = None, HIT_RADIUS
        for marker in self.markers:
            delta = self._view.mapViewToScene(to_view(marker.xy)) - scene_pos
            distance = (delta.x() ** 2 + delta.y() ** 2) ** 0.5
            if distance <= best_distance:
                best, best_distance = marker.key, distance
        return best

    def label_texts(self) -> list[str]:
        return self._labels.texts()
