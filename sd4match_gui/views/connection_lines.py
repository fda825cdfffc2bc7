"""Lines joining each source point to its target across two ViewBoxes of one scene.

The endpoints live in different ViewBoxes, so the lines are drawn in scene coordinates by one
item above both. They are drawn into a :class:`~.raster_cache.RasterCache` (a thousand antialiased
lines take tens of milliseconds to rasterise): redrawn in full when either view pans, zooms or
resizes, while a new point's line is only added on top, and a changed or removed line redraws the
band of pixels along it (the old and the new line) with the lines that cross that band. A line
whose end is scrolled out of its view is skipped rather than drawn across a neighbouring panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygon, QRegion, QTransform
from PySide6.QtWidgets import QGraphicsObject

from .coords import PIXEL_CENTRE
from .markers import MARKER_SIZE
from .raster_cache import RasterCache

Z_LINES = 1000
# Screen pixels. Lines are opaque and 2 px wide: fractional widths or translucency make the
# antialiased software rasteriser about twice as slow, and lines dominate a repaint.
LINE_WIDTH = 2
LINE_GAP = MARKER_SIZE / 2  # screen pixels left free at each end: the marker, with its clear centre
BAND = LINE_WIDTH + 2  # screen pixels around a line's centre that its antialiased pixels stay within
MAX_REPAIRED = 32  # lines changed at once beyond which the cache is redrawn whole (a new pair)


@dataclass(frozen=True)
class Link:
    """One line: ``source_xy`` in the source view, ``target_xy`` in ``target_view`` (engine pixels)."""

    source_xy: tuple[float, float]
    target_view: pg.ViewBox
    target_xy: tuple[float, float]
    colour: tuple[int, int, int]


def _affine(transform: QTransform, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        transform.m11() * x + transform.m21() * y + transform.dx(),
        transform.m12() * x + transform.m22() * y + transform.dy(),
    )


def _in_view(view: pg.ViewBox, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scene x, y of engine pixels ``xy`` (N x 2) in ``view``, and whether each is inside it."""
    x, y = _affine(view.childGroup.sceneTransform(), xy[:, 0] + PIXEL_CENTRE, xy[:, 1] + PIXEL_CENTRE)
    rect = view.sceneBoundingRect()
    inside = (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())
    return x, y, inside


class ConnectionLines(QGraphicsObject):
    """Scene-level overlay; call :meth:`watch` for every ViewBox whose changes move lines.

    Attributes:
        cache: the image of the lines.
    """

    def __init__(self, source_view: pg.ViewBox) -> None:
        super().__init__()
        self._source_view = source_view
        self._links: list[Link] = []
        self._views: list[pg.ViewBox] = []  # the target views the links reach
        self.cache = RasterCache()
        self._bounds: QRectF | None = None
        self.setZValue(Z_LINES)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.watch(source_view)

    def watch(self, view: pg.ViewBox) -> None:
        view.sigTransformChanged.connect(self._views_changed)
        view.sigResized.connect(self._views_changed)

    def _views_changed(self, *_: object) -> None:
        self.cache.invalidate()
        self.prepareGeometryChange()  # the views moved, so the area the lines may cover moved too
        self._bounds = None
        self.update()

    def set_links(self, links: list[Link]) -> None:
        if links == self._links:
            return
        self._update_cache(links)
        self._links = list(links)
        self._views = list({id(link.target_view): link.target_view for link in links}.values())
        self.prepareGeometryChange()
        self._bounds = None
        self.update()

    def _update_cache(self, links: list[Link]) -> None:
        """Draw what differs from the cached lines: a new point's line (it comes last) on top;
        a changed, removed or restored line in place, with the lines that cross its pixels."""
        old, start, end = self._links, 0, 0
        common = min(len(old), len(links))
        while start < common and (old[start] is links[start] or old[start] == links[start]):
            start += 1
        while end < common - start and (old[-1 - end] is links[-1 - end] or old[-1 - end] == links[-1 - end]):
            end += 1
        gone, came = old[start : len(old) - end], links[start : len(links) - end]
        if not gone and end == 0:
            self.cache.extend(lambda painter, transform: self._draw(painter, transform, came))
        elif len(gone) + len(came) > MAX_REPAIRED:
            self.cache.invalidate()
        else:
            changed = gone + came
            self.cache.repair(
                lambda _painter, transform: _bands(self._segments(transform, changed)),
                lambda painter, transform, _region: self._draw_near(painter, transform, links, changed),
                unclipped=True,
            )

    @property
    def links(self) -> list[Link]:
        return list(self._links)

    def boundingRect(self) -> QRectF:
        # Asked dozens of times per mouse event (pyqtgraph looks for the items under the cursor):
        # kept until a view moves or resizes, or the lines reach other views.
        if self._bounds is None:
            rect = self._source_view.sceneBoundingRect()
            for view in self._views:
                rect = rect.united(view.sceneBoundingRect())
            self._bounds = rect
        return QRectF(self._bounds)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._links:
            links = self._links
            self.cache.paint(painter, self.boundingRect(), lambda image, transform: self._draw(image, transform, links))

    def _segments(self, transform: QTransform, links: list[Link]) -> np.ndarray:
        """N x 4 (x1, y1, x2, y2) in the painter's pixels of the visible ones of ``links`` (NaN for a
        line with an end scrolled out of its view); each end stops at its marker's rim, so the line
        never covers the point's own pixel."""
        if not links:
            return np.zeros((0, 4))
        start_x, start_y, start_inside = _in_view(self._source_view, np.array([link.source_xy for link in links]))
        ends = np.zeros((len(links), 3))
        for view in {id(link.target_view): link.target_view for link in links}.values():
            rows = [i for i, link in enumerate(links) if link.target_view is view]
            x, y, inside = _in_view(view, np.array([links[i].target_xy for i in rows]))
            ends[rows] = np.stack([x, y, inside], axis=1)
        x1, y1 = _affine(transform, start_x, start_y)
        x2, y2 = _affine(transform, ends[:, 0], ends[:, 1])
        length = np.hypot(x2 - x1, y2 - y1)
        shift = np.minimum(LINE_GAP, length / 2) / np.maximum(length, 1e-9)
        dx, dy = (x2 - x1) * shift, (y2 - y1) * shift
        segments = np.stack([x1 + dx, y1 + dy, x2 - dx, y2 - dy], axis=1)
        segments[~(start_inside & (ends[:, 2] > 0))] = np.nan
        return segments

    def _draw(self, painter: QPainter, transform: QTransform, links: list[Link]) -> None:
        """``links`` in order; ``transform`` maps scene coordinates to the painter's pixels."""
        segments = self._segments(transform, links)
        colour = None
        for i in np.flatnonzero(~np.isnan(segments[:, 0])):
            if links[i].colour != colour:
                colour = links[i].colour
                painter.setPen(QPen(QColor(*colour), LINE_WIDTH))
            painter.drawLine(QLineF(*segments[i]))

    def _draw_near(self, painter: QPainter, transform: QTransform, links: list[Link], changed: list[Link]) -> None:
        """Those of ``links`` that pass through the band of a ``changed`` line, in order."""
        segments = self._segments(transform, links)
        near = np.zeros(len(links), dtype=bool)
        for segment in self._segments(transform, changed):
            if not np.isnan(segment[0]):
                near |= _within(segments, segment, 2 * BAND)
        self._draw(painter, transform, [links[i] for i in np.flatnonzero(near)])


def _to_segment(px, py, segments: np.ndarray) -> np.ndarray:
    """Distance from points (px, py) to segments (N x 4), elementwise."""
    x1, y1, x2, y2 = segments.T
    dx, dy = x2 - x1, y2 - y1
    t = np.clip(((px - x1) * dx + (py - y1) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
    return np.hypot(px - (x1 + t * dx), py - (y1 + t * dy))


def _within(segments: np.ndarray, segment: np.ndarray, distance: float) -> np.ndarray:
    """Which of ``segments`` (N x 4; NaN rows never) come within ``distance`` of ``segment`` (4,)."""
    x1, y1, x2, y2 = segments.T
    a, b = segment[:2], segment[2:]

    def side(px, py, qx, qy, rx, ry):
        return (qx - px) * (ry - py) - (qy - py) * (rx - px)

    crossing = (side(*a, *b, x1, y1) * side(*a, *b, x2, y2) <= 0) & (
        side(x1, y1, x2, y2, *a) * side(x1, y1, x2, y2, *b) <= 0
    )
    single = segment[None, :]
    closest = np.minimum.reduce(
        [_to_segment(x1, y1, single), _to_segment(x2, y2, single), _to_segment(*a, segments), _to_segment(*b, segments)]
    )
    return crossing | (closest <= distance)


def _bands(segments: np.ndarray) -> QRegion:
    """The pixels within ``BAND`` of each segment (N x 4; NaN rows are skipped)."""
    region = QRegion()
    for x1, y1, x2, y2 in segments[~np.isnan(segments[:, 0])]:
        length = max(float(np.hypot(x2 - x1, y2 - y1)), 1e-9)
        ux, uy = (x2 - x1) / length * BAND, (y2 - y1) / length * BAND
        corners = [(x1 - ux - uy, y1 - uy + ux), (x1 - ux + uy, y1 - uy - ux), (x2 + ux + uy, y2 + uy - ux)]
        corners.append((x2 + ux - uy, y2 + uy + ux))
        region += QRegion(QPolygon([QPoint(round(x), round(y)) for x, y in corners]))
    return region
