"""The one place where view (scene) coordinates meet engine pixels.

pyqtgraph puts pixel ``i`` of an ImageItem on ``[i, i + 1)``, so its centre is at ``i + 0.5``; the
engine's pixels have the centre of pixel ``i`` at ``i``. Views therefore add 0.5 to draw an engine
point and subtract 0.5 from a click before emitting it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF

from engine.frames import GridFrame

PIXEL_CENTRE = 0.5


def to_view(xy: tuple[float, float]) -> QPointF:
    """Engine pixels -> view coordinates of the ViewBox showing the image."""
    return QPointF(xy[0] + PIXEL_CENTRE, xy[1] + PIXEL_CENTRE)


def from_view(point: QPointF) -> tuple[float, float]:
    """View coordinates -> engine pixels."""
    return point.x() - PIXEL_CENTRE, point.y() - PIXEL_CENTRE


def clamp_to_image(xy: tuple[float, float], width: int, height: int) -> tuple[float, float]:
    """Keep a point inside the image, whose engine extent is [-0.5, W - 0.5] x [-0.5, H - 0.5]."""
    return min(max(xy[0], -0.5), width - 0.5), min(max(xy[1], -0.5), height - 0.5)


def inside_image(xy: tuple[float, float], width: int, height: int) -> bool:
    return -0.5 <= xy[0] <= width - 0.5 and -0.5 <= xy[1] <= height - 0.5


def heatmap_rect(frame: GridFrame) -> QRectF:
    """Where an ``h x w`` score map goes so that cell (i, j) is centred where the frame says.

    Cell centres sit at ``frame.grid_to_pixels`` (align-corners); cells are spaced ``(S - 1) /
    (w - 1) * W / S`` pixels apart, so the map is drawn as ``w`` cells of that width starting
    half a cell before the first centre. The map itself is never resampled.
    """
    first, second = frame.grid_to_pixels(np.array([[0.0, 0.0], [1.0, 1.0]]))
    cell_w = second[0] - first[0] if frame.grid_width > 1 else float(frame.image_width)
    cell_h = second[1] - first[1] if frame.grid_height > 1 else float(frame.image_height)
    left = first[0] + PIXEL_CENTRE - cell_w / 2
    top = first[1] + PIXEL_CENTRE - cell_h / 2
    return QRectF(left, top, cell_w * frame.grid_width, cell_h * frame.grid_height)
