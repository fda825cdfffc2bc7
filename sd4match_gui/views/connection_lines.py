"""Lines joining each source point to its target across two ViewBoxes of one scene.

The endpoints live in different ViewBoxes, so the lines are drawn in scene coordinates by one
item above both. They are drawn into a :class:`~.raster_cache.RasterCache` (a thousand antialiased
lines take tens of milliseconds to rasterise): redrawn in full when either view pans, zooms or
resizes or a line changes, while a new point's line is only added on top. A line whose end is
scrolled out of its view is skipped rather than drawn across a neighbouring panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsObject

from .coords import PIXEL_CENTRE
from .markers import MARKER_SIZE
from .raster_cache import RasterCache

Z_LINES = 1000
# Screen pixels. Lines are opaque and 2 px wide: fractional widths or translucency make the
# antialiased software rasteriser about twice as slow, and lines dominate a repaint.
LINE_WIDTH = 2
LINE_GAP = MARKER_SIZE / 2  # screen pixels left free at each end: the marker, with its clear centre


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
        self.setZValue(Z_LINES)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.watch(source_view)

    def watch(self, view: pg.ViewBox) -> None:
        view.sigTransformChanged.connect(self._views_changed)
        view.sigResized.connect(self._views_changed)

    def _views_changed(self, *_: object) -> None:
        self.cache.invalidate()
        self.prepareGeometryChange()  # the views moved, so the area the lines may cover moved too
        self.update()

    def set_links(self, links: list[Link]) -> None:
        if links == self._links:
            return
        known = len(self._links)
        if links[:known] == self._links:  # a new point's line comes last: draw it on top
            added = links[known:]
            self.cache.extend(lambda painter, transform: self._draw(painter, transform, added))
        else:
            self.cache.invalidate()
        self._links = list(links)
        self._views = list({id(link.target_view): link.target_view for link in links}.values())
        self.prepareGeometryChange()
        self.update()

    @property
    def links(self) -> list[Link]:
        return list(self._links)

    def boundingRect(self) -> QRectF:
        rect = self._source_view.sceneBoundingRect()
        for view in self._views:
            rect = rect.united(view.sceneBoundingRect())
        return rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._links:
            links = self._links
            self.cache.paint(painter, self.boundingRect(), lambda image, transform: self._draw(image, transform, links))

    def _draw(self, painter: QPainter, transform: QTransform, links: list[Link]) -> None:
        """``links`` in order; ``transform`` maps scene coordinates to the painter's pixels."""
        start_x, start_y, start_inside = _in_view(self._source_view, np.array([link.source_xy for link in links]))
        ends = np.zeros((len(links), 3))
        for view in {id(link.target_view): link.target_view for link in links}.values():
            rows = [i for i, link in enumerate(links) if link.target_view is view]
            x, y, inside = _in_view(view, np.array([links[i].target_xy for i in rows]))
            ends[rows] = np.stack([x, y, inside], axis=1)
        x1, y1 = _affine(transform, start_x, start_y)
        x2, y2 = _affine(transform, ends[:, 0], ends[:, 1])
        # Each end stops at its marker's rim, so the line never covers the point's own pixel.
        length = np.hypot(x2 - x1, y2 - y1)
        shift = np.minimum(LINE_GAP, length / 2) / np.maximum(length, 1e-9)
        dx, dy = (x2 - x1) * shift, (y2 - y1) * shift
        x1, y1, x2, y2 = x1 + dx, y1 + dy, x2 - dx, y2 - dy
        colour = None
        for i in np.flatnonzero(start_inside & (ends[:, 2] > 0)):
            if links[i].colour != colour:
                colour = links[i].colour
                painter.setPen(QPen(QColor(*colour), LINE_WIDTH))
            painter.drawLine(QLineF(x1[i], y1[i], x2[i], y2[i]))
