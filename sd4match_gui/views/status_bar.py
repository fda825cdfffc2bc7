"""The window's status bar: a temporary message is cut with "…" where the room left of the
permanent texts ends (Qt's own cuts it mid-letter), and the whole message is then its tooltip."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QStatusBar, QStyle, QStyleOption, QWidget

MESSAGE_FLAGS = Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine


class StatusBar(QStatusBar):
    """A QStatusBar whose temporary message never shows cut without saying so."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        self._drawn_around: list[QRect] = []  # its widgets' frames, as last laid out
        self.messageChanged.connect(lambda _message: self.update())

    def event(self, event: QEvent) -> bool:
        """QStatusBar repaints itself whole after each relayout, and a text that changes (at every
        click and hover) relays it out. Its own pixels (the message and the frames around its
        widgets) change only when those widgets move, come or go: only then is it repainted. The
        widgets repaint themselves."""
        if event.type() == QEvent.Type.LayoutRequest:
            children = self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            frames = [w.geometry() if w.isVisible() else QRect() for w in children]
            if frames == self._drawn_around:
                return True
            self._drawn_around = frames
        return super().event(event)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        super().addPermanentWidget(widget, stretch)
        self._permanent.append(widget)

    def message_rect(self) -> QRect:
        """Where the message is drawn: from the left edge to the first visible permanent widget
        (as Qt lays it out)."""
        visible = [w.geometry().left() for w in self._permanent if w.isVisible()]
        right = min(visible) if visible else self.width() - 12
        return QRect(6, 0, right - 6, self.height())

    def shown_message(self) -> str:
        """The message as drawn: cut with "…" to :meth:`message_rect`."""
        return self.fontMetrics().elidedText(
            self.currentMessage(), Qt.TextElideMode.ElideRight, self.message_rect().width()
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        message = self.currentMessage()
        shown = self.shown_message()
        self.setToolTip(message if shown != message else "")
        if not message:
            super().paintEvent(event)
            return
        # What QStatusBar paints while a message shows, with the message cut instead of clipped.
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        style = self.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        for widget in self._permanent:
            if widget.isVisible():
                frame = QStyleOption()
                frame.rect = widget.geometry().adjusted(-2, -1, 2, 1)
                frame.palette = self.palette()
                style.drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem, frame, painter, widget)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.message_rect(), MESSAGE_FLAGS, shown)
