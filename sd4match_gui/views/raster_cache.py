"""A drawing layer kept as an image in device pixels, so that a repaint costs one blit.

A thousand antialiased lines or numbered markers take tens of milliseconds to rasterise, and the
canvas repaints at every click, answer and hover preview. :class:`RasterCache` draws its layer once
into an image of the screen area it covers and blits that image at each repaint. It is redrawn in
full when the painter's transform (a pan or a zoom), the covered area or the pixel ratio changes,
or after :meth:`RasterCache.invalidate`. Between those, the layer's own changes cost what changed:
:meth:`RasterCache.extend` draws new items on top (items added last come last in the drawing
order), and :meth:`RasterCache.repair` clears the pixels that changed items covered or cover and
draws there again, clipped, the items that reach them, in order. Either way the image equals a
full redraw, pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QRegion, QTransform

# Draws into ``painter`` (image pixels, identity transform); the transform maps item coordinates to
# those pixels.
Draw = Callable[[QPainter, QTransform], None]
# The image pixels (logical) that changed; the arguments are those of a Draw.
Dirty = Callable[[QPainter, QTransform], QRegion]
# Draws again every item that reaches ``region`` (the painter is clipped to it).
Redraw = Callable[[QPainter, QTransform, QRegion], None]
MAX_PENDING = 64  # changes kept for the next paint; beyond that a full redraw is cheaper


def _transform_key(transform: QTransform) -> tuple[float, ...]:
    return (transform.m11(), transform.m12(), transform.m21(), transform.m22(), transform.dx(), transform.dy())


class RasterCache:
    """The cached image of one layer of a graphics item.

    Attributes:
        full_redraws: how many times the whole layer was drawn (for tests).
        repairs: how many changes were drawn in place (for tests).
    """

    def __init__(self) -> None:
        self._image: QImage | None = None
        self._key: tuple[object, ...] | None = None
        self._origin = QPoint()
        self._to_image = QTransform()
        self._pending: list[Draw] = []
        self._scratch: QImage | None = None  # where unclipped repairs are drawn
        self._repairing = False  # a pending change clears pixels (exact at whole-number pixel ratios only)
        self.full_redraws = 0
        self.repairs = 0

    def invalidate(self) -> None:
        """Redraw the whole layer at the next paint."""
        self._key = None
        self._pending.clear()

    def extend(self, draw: Draw) -> None:
        """Items were appended: ``draw`` them on top at the next paint (a full redraw includes them)."""
        self._add(draw)

    def repair(self, dirty: Dirty, redraw: Redraw, unclipped: bool = False) -> None:
        """Items changed, went or came in the middle of the order: at the next paint, clear ``dirty``
        (every pixel the changed items covered before or cover now) and ``redraw`` the items that
        reach it. ``unclipped``: Qt rasterises some shapes (antialiased lines) a little differently
        under a clip region, so they are drawn whole into a scratch image and only ``dirty`` is
        copied from there."""

        def draw(painter: QPainter, transform: QTransform) -> None:
            region = dirty(painter, transform)
            if region.isEmpty():
                return
            painter.save()
            painter.setClipRegion(region)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            if unclipped:
                bounds, ratio = region.boundingRect(), painter.device().devicePixelRatioF()
                source = QRectF(bounds.x() * ratio, bounds.y() * ratio, bounds.width() * ratio, bounds.height() * ratio)
                painter.drawImage(QRectF(bounds), self._scratch_drawn(region, transform, redraw), source)
            else:
                painter.fillRect(region.boundingRect(), Qt.GlobalColor.transparent)
                painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
                redraw(painter, transform, region)
            painter.restore()
            self.repairs += 1

        self._repairing = True
        self._add(draw)

    def _scratch_drawn(self, region: QRegion, transform: QTransform, redraw: Redraw) -> QImage:
        """The scratch image (the cache's size) with ``region``'s bounds cleared and ``redraw`` drawn
        there unclipped, as a full redraw draws it."""
        image = self._image
        if self._scratch is None or self._scratch.size() != image.size():
            self._scratch = QImage(image.size(), image.format())
            self._scratch.setDevicePixelRatio(image.devicePixelRatio())
        painter = QPainter(self._scratch)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.fillRect(region.boundingRect(), Qt.GlobalColor.transparent)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        redraw(painter, transform, region)
        painter.end()
        return self._scratch

    def _add(self, draw: Draw) -> None:
        if self._key is None:
            return  # the full redraw to come draws the layer as it is then
        if len(self._pending) >= MAX_PENDING:
            self.invalidate()
        else:
            self._pending.append(draw)

    def paint(self, painter: QPainter, area: QRectF, draw_all: Draw) -> None:
        """Blit the layer into ``painter``; ``area`` (item coordinates) bounds what it may cover."""
        transform = painter.transform()  # item -> device pixels (logical)
        bounds = transform.mapRect(area).toAlignedRect()
        if bounds.isEmpty():
            return
        ratio = painter.device().devicePixelRatioF()
        key = (_transform_key(transform), bounds.getRect(), ratio)
        if self._repairing and not ratio.is_integer():  # clip edges would fall inside device pixels
            self._key = None
        self._repairing = False
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
