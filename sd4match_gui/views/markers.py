"""Numbered point markers that keep their on-screen size at any zoom.

One ScatterPlotItem in pixel mode draws all symbols; one TextItem per point draws its number
(TextItems ignore the view transform, so labels stay legible). Positions are engine pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from .coords import to_view

MARKER_SIZE = 11
SELECTED_SIZE = 17
HIT_RADIUS = 9.0  # screen pixels
Z_MARKERS = 20

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


class MarkerLayer:
    """Draws markers into a ViewBox and finds the one under a scene position."""

    def __init__(self, view: pg.ViewBox) -> None:
        self._view = view
        self._scatter = pg.ScatterPlotItem(pxMode=True)
        self._scatter.setZValue(Z_MARKERS)
        # The ViewBox does hit-testing (in screen pixels) so clicks and drags on markers reach it.
        self._scatter.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        view.addItem(self._scatter)
        self._labels: list[pg.TextItem] = []
        self.markers: list[Marker] = []

    def set_markers(self, markers: list[Marker]) -> None:
        self.markers = list(markers)
        self._scatter.setData([self._spot(m) for m in self.markers])
        self._sync_labels()

    def move(self, key: int, xy: tuple[float, float]) -> None:
        """Move one marker (live feedback while dragging)."""
        self.set_markers(
            [Marker(m.key, xy, m.colour, m.text, m.style, m.selected) if m.key == key else m for m in self.markers]
        )

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
        return [label.toPlainText() for label in self._labels if label.isVisible()]

    def _spot(self, marker: Marker) -> dict:
        symbol, filled = STYLES[marker.style]
        rim = (255, 255, 255) if marker.selected else (0, 0, 0)
        hollow = not filled and not marker.selected
        return {
            "pos": to_view(marker.xy),
            "size": SELECTED_SIZE if marker.selected else MARKER_SIZE,
            "symbol": symbol,
            "pen": pg.mkPen(marker.colour if hollow or symbol in "x+" else rim, width=3 if hollow else 1.5),
            "brush": pg.mkBrush(*marker.colour, 0 if hollow else 230),
            "data": marker.key,
        }

    def _sync_labels(self) -> None:
        """Reuse TextItems (creating them is the slow part of a redraw)."""
        while len(self._labels) < len(self.markers):
            label = pg.TextItem(anchor=(-0.25, 1.05), fill=pg.mkBrush(0, 0, 0, 150))
            label.setZValue(Z_MARKERS + 1)
            label.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self._view.addItem(label)
            self._labels.append(label)
        for index, label in enumerate(self._labels):
            if index >= len(self.markers) or not self.markers[index].text:
                label.setVisible(False)
                continue
            marker = self.markers[index]
            label.setText(marker.text, color=marker.colour)
            label.setPos(to_view(marker.xy))
            label.setVisible(True)
