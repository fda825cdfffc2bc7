"""A drawing layer kept as an image in device pixels, so that a repaint costs one blit.

A thousand antialiased lines or numbered markers take tens of milliseconds to rasterise, and the
canvas repaints at every click, answer and hover preview. :class:`RasterCache` draws its layer once
into an image of the screen area it covers and blits that image at each repaint. It is redrawn in
full when the painter's transform (a pan or a zoom), the covered area or the pixel ratio changes,
or after :meth:`RasterCache.invalidate`. :meth:`RasterCache.extend` draws only new items on top of
a valid image: items added last come last in the drawing order, so the image equals a full redraw.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QTransform

# Draws into ``painter`` (image pixels, identity transform); the transform maps item coordinates to
# those pixels.
Draw = Callable[[QPainter, QTransform], None]


def _transform_key(transform: QTransform) -> tuple[float, ...]:
    return (transform.m11(), transform.m12(), transform.m21(), transform.m22(), transform.dx(), transform.dy())


class RasterCache:
    """The cached image of one layer of a graphics item.

    Attributes:
        full_redraws: how many times the whole layer was drawn (for tests).
    """

    def __init__(self) -> None:
        self._image: QImage | None = None
        self._key: tuple[object, ...] | None = None
        self._origin = QPoint()
        self._to_image = QTransform()
        self._pending: list[Draw] = []
        self.full_redraws = 0

    def invalidate(self) -> None:
        """The layer changed other than by additions: redraw it all at the next paint."""
        self._key = None
        self._pending.clear()

    def extend(self, draw: Draw) -> None:
        """Items were appended: ``draw`` them on top at the next paint (a full redraw includes them)."""
        if self._key is not None:
            self._pending.append(draw)

    def paint(self, painter: QPainter, area: QRectF, draw_all: Draw) -> None:
        """Blit the layer into ``painter``; ``area`` (item coordinates) bounds what it may cover."""
        transform = painter.transform()  # item -> device pixels (logical)
        bounds = transform.mapRect(area).toAlignedRect()
        if bounds.isEmpty():
            return
        ratio = painter.device().devicePixelRatioF()
        key = (_transform_key(transform), bounds.getRect(), ratio)
        if key != self._key or self._image is None:
            image = QImage(bounds.size() * ratio, QImage.Format.Format_ARGB32_Premultiplied)
            image.setDevicePixelRatio(ratio)
            image.fill(Qt.GlobalColor.transparent)
            self._image, self._key, self._origin = image, key, bounds.topLeft()
            self._to_image = transform * QTransform.fromTranslate(-bounds.x(), -bounds.y())
            self._pending = [draw_all]
            self.full_redraws += 1
        if self._pending:
            image_painter = QPainter(self._image)
            image_painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for draw in self._pending:
                draw(image_painter, self._to_image)
            image_painter.end()
            self._pending = []
        painter.save()
        painter.resetTransform()
        painter.drawImage(self._origin, self._image)
        painter.restore()
