"""Raw mouse events on the canvas viewport (QTest is unreliable with QGraphicsView).

pyqtgraph ignores mouse moves that follow the previous one within 1 / ``mouseRateLimit`` seconds
(10 ms by default), so drags pace their moves.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from sd4match_gui.views.coords import to_view
from sd4match_gui.views.pair_canvas import PairCanvas

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton
MOVE_INTERVAL_MS = 12


def widget_pos(canvas: PairCanvas, panel: int, xy: tuple[float, float]) -> QPoint:
    """Viewport position of engine pixel ``xy`` in ``panel`` (-1 source, else a target)."""
    view = canvas.panel(panel).view
    return canvas.mapFromScene(view.mapViewToScene(to_view(xy)))


def _send(canvas: PairCanvas, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    local = QPointF(pos)
    event = QMouseEvent(
        kind, local, QPointF(canvas.viewport().mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(canvas.viewport(), event)


def hover(canvas: PairCanvas, panel: int, xy: tuple[float, float]) -> None:
    """Move the cursor over ``xy`` with no button held (paced like a real mouse)."""
    QTest.qWait(MOVE_INTERVAL_MS)
    _send(canvas, QEvent.Type.MouseMove, widget_pos(canvas, panel, xy), NONE, NONE)


def click(canvas: PairCanvas, panel: int, xy: tuple[float, float]) -> None:
    pos = widget_pos(canvas, panel, xy)
    _send(canvas, QEvent.Type.MouseMove, pos, NONE, NONE)
    _send(canvas, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    _send(canvas, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)


def drag(canvas: PairCanvas, panel: int, start: tuple[float, float], end: tuple[float, float], steps: int = 6):
    first, last = widget_pos(canvas, panel, start), widget_pos(canvas, panel, end)
    _send(canvas, QEvent.Type.MouseMove, first, NONE, NONE)
    _send(canvas, QEvent.Type.MouseButtonPress, first, LEFT, LEFT)
    for step in range(1, steps + 1):
        t = step / steps
        pos = QPoint(round(first.x() + t * (last.x() - first.x())), round(first.y() + t * (last.y() - first.y())))
        QTest.qWait(MOVE_INTERVAL_MS)
        _send(canvas, QEvent.Type.MouseMove, pos, LEFT, LEFT)
    _send(canvas, QEvent.Type.MouseButtonRelease, last, LEFT, NONE)


def pixel_tolerance(canvas: PairCanvas, panel: int) -> float:
    """Image pixels per screen pixel: how far a click can land from the intended pixel."""
    view = canvas.panel(panel).view
    width = view.viewRange()[0][1] - view.viewRange()[0][0]
    return width / max(view.width(), 1) + 1e-6
