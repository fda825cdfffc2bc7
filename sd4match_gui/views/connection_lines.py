"""Lines joining each source point to its target across two ViewBoxes of one scene.

The endpoints live in different ViewBoxes, so the lines are drawn in scene coordinates by one
item above both, recomputed whenever either view pans, zooms or resizes. A line whose end is
scrolled out of its view is skipped rather than drawn across a neighbouring panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsObject

from .coords import to_view

Z_LINES = 1000
# Screen pixels. Lines are opaque and 2 px wide: fractional widths or translucency make the
# antialiased software rasteriser about twice as slow, and lines dominate a repaint.
LINE_WIDTH = 2


@dataclass(frozen=True)
class Link:
    """One line: ``source_xy`` in the source view, ``target_xy`` in ``target_view`` (engine pixels)."""

    source_xy: tuple[float, float]
    target_view: pg.ViewBox
    target_xy: tuple[float, float]
    colour: tuple[int, int, int]


class ConnectionLines(QGraphicsObject):
    """Scene-level overlay; call :meth:`watch` for every ViewBox whose changes move lines."""

    def __init__(self, source_view: pg.ViewBox) -> None:
        super().__init__()
        self._source_view = source_view
        self._links: list[Link] = []
        self.setZValue(Z_LINES)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.watch(source_view)

    def watch(self, view: pg.ViewBox) -> None:
        view.sigTransformChanged.connect(self._redraw)
        view.sigResized.connect(self._redraw)

    def _redraw(self, *_: object) -> None:
        self.prepareGeometryChange()  # the views moved, so the area the lines may cover moved too
        self.update()

    def set_links(self, links: list[Link]) -> None:
        self._links = list(links)
        self._redraw()

    @property
    def links(self) -> list[Link]:
        return list(self._links)

    def boundingRect(self) -> QRectF:
        rect = self._source_view.sceneBoundingRect()
        for view in {id(link.target_view): link.target_view for link in self._links}.values():
            rect = rect.united(view.sceneBoundingRect())
        return rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for link in self._links:
            start = self._visible_scene_point(self._source_view, link.source_xy)
            end = self._visible_scene_point(link.target_view, link.target_xy)
            if start is None or end is None:
                continue
            pen = QPen(pg.mkColor(*link.colour), LINE_WIDTH)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QLineF(start, end))

    @staticmethod
    def _visible_scene_point(view: pg.ViewBox, xy: tuple[float, float]) -> QPointF | None:
        point = view.mapViewToScene(to_view(xy))
        return point if view.sceneBoundingRect().contains(point) else None
