"""Numbered point markers that keep their on-screen size at any zoom.

One :class:`MarkerLayer` per view draws every marker (symbol and number) from small images made
once per look, into a :class:`~.raster_cache.RasterCache`: a repaint blits one image, a new point
draws one marker, and a point that changes, goes or comes back (an undo, a deletion, a correction)
redraws the few markers around it, whatever the number of points. The selected marker is drawn on
top of the cache at each repaint, so that selecting another point redraws nothing else. Every
symbol leaves a clear centre: the pixel under the point stays visible. Positions are engine pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QRegion, QTransform

from .coords import PIXEL_CENTRE
from .raster_cache import RasterCache

MARKER_SIZE = 13
SELECTED_SIZE = 19
HOLE = 7  # screen pixels left clear in the middle of every symbol (rims included): the point's pixel shows
HIT_RADIUS = 9.0  # screen pixels
MAX_REPAIRED = 32  # markers changed at once beyond which the cache is redrawn whole (a new pair)
Z_MARKERS = 20
LABEL_OFFSET = QPointF(7, -8)  # screen pixels from the marker centre to the label's bottom-left
LABEL_MARGIN = 48  # screen pixels a label may reach beyond its marker
SYMBOL_REACH = SELECTED_SIZE + 4  # screen pixels a symbol may reach from its point (more than it does)
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


def _sprite(width: int, height: int, ratio: float) -> QImage:
    image = QImage(round(width * ratio), round(height * ratio), QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    return image


@lru_cache(maxsize=1024)
def symbol_sprite(style: str, colour: tuple[int, int, int], selected: bool, ratio: float = 1.0) -> QImage:
    """The marker's symbol on an odd-sized transparent square whose centre pixel is the point's.

    Filled symbols are rings with a black rim (white when selected, and larger); an unfilled one
    (an unconfirmed prediction) is a thick outline. Circles and squares have a hole of
    ``HOLE`` screen pixels and crosses leave that much free in the middle.
    """
    symbol, filled = STYLES[style]
    size = SELECTED_SIZE if selected else MARKER_SIZE
    side = size + 4 + (size + 1) % 2  # room for the rim; odd, so that one pixel is the centre
    image = _sprite(side, side, ratio)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    centre, radius, hole = QPointF(side / 2, side / 2), size / 2, HOLE / 2
    rim = QPen(QColor(255, 255, 255) if selected else QColor(0, 0, 0), 1.5)
    if symbol in "x+":
        path = QPainterPath()
        angles = (45, 135, 225, 315) if symbol == "x" else (0, 90, 180, 270)
        for angle in angles:
            dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            path.moveTo(centre + QPointF(dx, dy) * hole)
            path.lineTo(centre + QPointF(dx, dy) * radius)
        if selected:
            painter.strokePath(path, QPen(QColor(255, 255, 255), 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
        painter.strokePath(path, QPen(QColor(*colour), 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
    elif not filled and not selected:
        painter.setPen(QPen(QColor(*colour), 3))
        painter.drawEllipse(centre, radius - 1.5, radius - 1.5)
    else:
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        if symbol == "s":
            path.addRect(QRectF(centre.x() - radius, centre.y() - radius, size, size))
            path.addRect(QRectF(centre.x() - hole, centre.y() - hole, HOLE, HOLE))
        else:
            path.addEllipse(centre, radius, radius)
            path.addEllipse(centre, hole, hole)
        painter.fillPath(path, QColor(*colour))
        painter.strokePath(path, rim)
    painter.end()
    return image


@lru_cache(maxsize=4096)
def label_sprite(text: str, colour: tuple[int, int, int], ratio: float = 1.0) -> QImage:
    """``text`` on a tab of ``colour``, in black or white, whichever reads better."""
    font, metrics = _label_font()
    box = metrics.boundingRect(text).adjusted(-3, -1, 3, 1)
    image = _sprite(math.ceil(box.width()), math.ceil(box.height()), ratio)
    background = QColor(*colour)
    painter = QPainter(image)
    painter.fillRect(QRectF(0, 0, box.width(), box.height()), background)
    painter.setFont(font)
    painter.setPen(Qt.GlobalColor.black if background.lightness() > LIGHT else Qt.GlobalColor.white)
    painter.drawText(QRectF(0, 0, box.width(), box.height()), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return image


@lru_cache(maxsize=1)
def _label_font() -> tuple[QFont, QFontMetricsF]:
    """Made on first use: fonts need the application, which importing this module must not."""
    font = QFont()
    font.setPointSizeF(8.5)
    font.setBold(True)
    return font, QFontMetricsF(font)


def _placed(marker: Marker, transform: QTransform, ratio: float) -> list[tuple[int, int, QImage]]:
    """Where the marker's images go (top-left, logical pixels of the painter): symbol, then label."""
    centre = transform.map(QPointF(marker.xy[0] + PIXEL_CENTRE, marker.xy[1] + PIXEL_CENTRE))
    x, y = math.floor(centre.x()), math.floor(centre.y())  # the screen pixel holding the point
    symbol = symbol_sprite(marker.style, marker.colour, marker.selected, ratio)
    half = round(symbol.width() / ratio) // 2
    placed = [(x - half, y - half, symbol)]
    if marker.text:
        label = label_sprite(marker.text, marker.colour, ratio)
        height = round(label.height() / ratio)
        placed.append((x + round(LABEL_OFFSET.x()), y + round(LABEL_OFFSET.y()) - height, label))
    return placed


def draw_markers(painter: QPainter, transform: QTransform, markers: list[Marker]) -> None:
    """Each marker's symbol, then its label, in list order; ``transform`` maps view coordinates to
    the painter's pixels (an identity transform)."""
    ratio = painter.device().devicePixelRatioF()
    for marker in markers:
        for x, y, image in _placed(marker, transform, ratio):
            painter.drawImage(x, y, image)


def footprint(transform: QTransform, markers: list[Marker], ratio: float) -> QRegion:
    """The pixels :func:`draw_markers` may touch for ``markers`` (logical pixels of the painter)."""
    region = QRegion()
    for marker in markers:
        for x, y, image in _placed(marker, transform, ratio):
            region += QRect(x, y, math.ceil(image.width() / ratio), math.ceil(image.height() / ratio))
    return region


def reaching(transform: QTransform, xy: np.ndarray, region: QRegion) -> np.ndarray:
    """Indices of the markers at view coordinates ``xy`` (N x 2) whose images may reach ``region``
    (logical pixels): a symbol reaches ``SYMBOL_REACH`` pixels around its point, a label
    ``LABEL_MARGIN`` right of and above it."""
    x = transform.m11() * xy[:, 0] + transform.m21() * xy[:, 1] + transform.dx()
    y = transform.m12() * xy[:, 0] + transform.m22() * xy[:, 1] + transform.dy()
    near = np.zeros(len(xy), dtype=bool)
    for rect in region:
        near |= (
            (x + LABEL_MARGIN >= rect.left())
            & (x - SYMBOL_REACH <= rect.right() + 1)
            & (y + SYMBOL_REACH >= rect.top())
            & (y - LABEL_MARGIN <= rect.bottom() + 1)
        )
    return np.flatnonzero(near)


def open_crosshair(size: float) -> QPainterPath:
    """A crosshair symbol (pyqtgraph's unit square) whose arms stop clear of the centre (``HOLE``
    wide, plus room for their pen) at ``size`` screen pixels: the pixel it points at stays visible."""
    path = QPainterPath()
    gap = (HOLE / 2 + 1.5) / size
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        path.moveTo(dx * gap, dy * gap)
        path.lineTo(dx * 0.5, dy * 0.5)
    return path


class PassiveScatter(pg.ScatterPlotItem):
    """A scatter that never takes clicks: pyqtgraph hands clicks to any item with this method,
    whatever its accepted buttons, and the ViewBox must get them to hit-test in screen pixels."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()


class MarkerLayer(pg.GraphicsObject):
    """Draws markers into a ViewBox and finds the one under a scene position.

    Attributes:
        markers: what is shown, in drawing order.
        cache: the image of every marker in its unselected look (the selected one is drawn over it).
    """

    def __init__(self, view: pg.ViewBox) -> None:
        super().__init__()
        self._view = view
        self.setZValue(Z_MARKERS)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.markers: list[Marker] = []
        self.cache = RasterCache()
        self._unselected: list[Marker] = []  # what the cache holds
        self._selected: list[Marker] = []
        self._xy = np.zeros((0, 2))  # view coordinates of ``markers``
        self._extent = QRectF()
        # boundingRect is asked dozens of times per mouse event (pyqtgraph looks for the items under
        # the cursor) and needs the pixel size: kept until the markers or the view's scale change.
        self._bounds: QRectF | None = None
        view.addItem(self)

    def set_markers(self, markers: list[Marker]) -> None:
        if markers == self.markers:
            return  # redraws after each answer mostly leave a view's markers as they were
        unselected = [replace(m, selected=False) if m.selected else m for m in markers]
        self._xy = self._update_cache(unselected)
        self.markers, self._unselected = list(markers), unselected
        self._selected = [m for m in markers if m.selected]
        self.prepareGeometryChange()
        self._bounds = None
        if len(self._xy):
            (left, top), (right, bottom) = self._xy.min(axis=0), self._xy.max(axis=0)
            self._extent = QRectF(left, top, right - left, bottom - top)
        else:
            self._extent = QRectF()
        self.update()

    def _update_cache(self, unselected: list[Marker]) -> np.ndarray:
        """Draw what differs from the cached markers: new ones at the end on top; others (moved,
        restyled, removed, put back) in place, with the markers around them. A selection change
        leaves the cache as it is (the selected marker is drawn over it). Returns the view
        coordinates of ``unselected`` (N x 2)."""
        old, start, end = self._unselected, 0, 0
        common = min(len(old), len(unselected))
        while start < common and (old[start] is unselected[start] or old[start] == unselected[start]):
            start += 1
        while end < common - start and (old[-1 - end] is unselected[-1 - end] or old[-1 - end] == unselected[-1 - end]):
            end += 1
        gone, came = old[start : len(old) - end], unselected[start : len(unselected) - end]
        if not gone and not came:
            return self._xy
        xy = np.array([m.xy for m in came], dtype=np.float64).reshape(-1, 2) + PIXEL_CENTRE
        if not gone and end == 0:  # new points come last: drawing them on top is what a full redraw gives
            self.cache.extend(lambda painter, transform: draw_markers(painter, transform, came))
            return np.concatenate([self._xy, xy])
        xy = np.concatenate([self._xy[:start], xy, self._xy[len(old) - end :]])
        if len(gone) + len(came) > MAX_REPAIRED:
            self.cache.invalidate()
        else:

            def dirty(painter: QPainter, transform: QTransform) -> QRegion:
                return footprint(transform, gone + came, painter.device().devicePixelRatioF())

            def redraw(painter: QPainter, transform: QTransform, region: QRegion) -> None:
                draw_markers(painter, transform, [unselected[i] for i in reaching(transform, xy, region)])

            self.cache.repair(dirty, redraw)
        return xy

    def move(self, key: int, xy: tuple[float, float]) -> None:
        """Move one marker (live feedback while dragging)."""
        self.set_markers([replace(m, xy=xy) if m.key == key else m for m in self.markers])

    def hit(self, scene_pos: QPointF) -> int | None:
        """Key of the marker nearest to ``scene_pos`` within HIT_RADIUS screen pixels (the later
        one of equally near markers: it is drawn on top)."""
        if not self.markers:
            return None
        to_scene = self.sceneTransform()
        x, y = self._xy[:, 0], self._xy[:, 1]
        scene_x = to_scene.m11() * x + to_scene.m21() * y + to_scene.dx()
        scene_y = to_scene.m12() * x + to_scene.m22() * y + to_scene.dy()
        distance = np.hypot(scene_x - scene_pos.x(), scene_y - scene_pos.y())[::-1]
        nearest = int(np.argmin(distance))
        return self.markers[len(self.markers) - 1 - nearest].key if distance[nearest] <= HIT_RADIUS else None

    def label_texts(self) -> list[str]:
        return [m.text for m in self.markers if m.text]

    # ---- QGraphicsItem ----

    def boundingRect(self) -> QRectF:
        if self._bounds is None:
            self._bounds = self._bounds_now()
        return QRectF(self._bounds)

    def _bounds_now(self) -> QRectF:
        if not self.markers:
            return QRectF()
        size = self.pixelSize()  # view units per screen pixel
        if size is None or size[0] == 0:
            return QRectF()
        dx, dy = LABEL_MARGIN * size[0], LABEL_MARGIN * size[1]
        return self._extent.adjusted(-dx, -dy, dx, dy)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the margin is in screen pixels, so the bounds follow the zoom
        self._bounds = None

    def paint(self, painter: QPainter, *args) -> None:
        if not self.markers:
            return
        # The visible part of the view: unchanged by new markers, so adding one draws one.
        unselected = self._unselected
        self.cache.paint(
            painter, self._view.viewRect(), lambda image, transform: draw_markers(image, transform, unselected)
        )
        if self._selected:
            transform = painter.transform()
            painter.save()
            painter.resetTransform()
            draw_markers(painter, transform, self._selected)
            painter.restore()
