"""A non-blocking message bar above the images (weights missing, an engine error, recovery)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

KINDS = {  # background, text colour
    "info": ("#24445c", "#e8f1f8"),
    "warning": ("#5c4a1a", "#fff4d6"),
    "error": ("#5c2222", "#ffe3e3"),
}


class Banner(QWidget):
    """Text, an optional action button and a close button; hidden until :meth:`show_message`.

    Signals:
        action_clicked(): the optional button was pressed.
    """

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.clicked.connect(self.action_clicked)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(close)
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def show_message(self, text: str, kind: str = "info", action: str | None = None) -> None:
        background, colour = KINDS[kind]
        self.setStyleSheet(f"Banner {{ background: {background}; }} QLabel {{ color: {colour}; }}")
        self.label.setText(text)
        self.action.setVisible(action is not None)
        self.action.setText(action or "")
        self.show()
