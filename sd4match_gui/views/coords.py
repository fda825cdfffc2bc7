"""The one place where view (scene) coordinates meet engine pixels.

pyqtgraph puts pixel ``i`` of an ImageItem on ``[i, i + 1)``, so its centre is at ``i + 0.5``; the
engine's pixels have the centre of pixel ``i`` at ``i``. Views therefore add 0.5 to draw an engine
point and subtract 0.5 from a click before emitting it.
"""

from __future__ import annotations

import dataclasses

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


def heatmap_display(frame: GridFrame, max_side: int) -> tuple[GridFrame, QRectF]:
    """Where a score map is resampled for display, and where that display map goes in the view.

    Returns ``frame`` with a display-sized image (``engine.heatmap.stretch_to_image`` resamples
    onto it) and the view rectangle of that map. Up to ``max_side`` pixels on the longer side
    the display map is the image's own pixel grid, drawn on ``[0, W] x [0, H]``. A larger image
    gets a map of ``w' = W * max_side / max(W, H)`` columns: ``stretch_to_image`` samples its
    column ``i`` at square coordinate ``i * S / w'``, which is engine pixel ``i * W / w'``, so
    column ``i`` is centred there, each column ``W / w'`` engine pixels wide (rows alike).
    """
    scale = min(1.0, max_side / max(frame.image_width, frame.image_height))
    width = max(1, round(frame.image_width * scale))
    height = max(1, round(frame.image_height * scale))
    display = dataclasses.replace(frame, image_width=width, image_height=height)
    pitch_x, pitch_y = frame.image_width / width, frame.image_height / height
    rect = QRectF(PIXEL_CENTRE - pitch_x / 2, PIXEL_CENTRE - pitch_y / 2, frame.image_width, frame.image_height)
    return display, rect
