"""A non-blocking message bar above the images (weights missing, an engine error, recovery).

It always takes one line, whatever the window's width: the message is cut with "…" to fit (the
whole of it is the tooltip), and "Details" unfolds the rest (the full message and any details)
below, word-wrapped, only when asked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from .widgets import ElidedLabel

KINDS = {  # background, text colour
    "info": ("#24445c", "#e8f1f8"),
    "warning": ("#5c4a1a", "#fff4d6"),
    "error": ("#5c2222", "#ffe3e3"),
}


class Banner(QWidget):
    """One line of text, a "Details" toggle, an optional action button and a close button; hidden
    until :meth:`show_message`.

    Signals:
        action_clicked(): the optional button was pressed.
    """

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 4, 6, 4)
        column.setSpacing(2)
        row = QHBoxLayout()
        self.label = ElidedLabel()
        self.label.elision_changed.connect(self._update_details_button)
        self.more = QToolButton()
        self.more.setText("Details")
        self.more.setCheckable(True)
        self.more.setToolTip("Show the whole message")
        self.more.toggled.connect(self._show_details)
        self.action = QPushButton()
        self.action.clicked.connect(self.action_clicked)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row.addWidget(self.label, 1)
        row.addWidget(self.more)
        row.addWidget(self.action)
        row.addWidget(close)
        column.addLayout(row)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        column.addWidget(self.details)
        self._details = ""
        self.hide()

    @property
    def text(self) -> str:
        """The whole message (details included) while the banner is shown, else ""."""
        if not self.isVisibleTo(self.parentWidget()):
            return ""
        return "\n".join(part for part in (self.label.full_text, self._details) if part)

    def show_message(self, text: str, kind: str = "info", action: str | None = None, details: str = "") -> None:
        """``text``: one line of plain text; ``details``: rich text shown on demand."""
        background, colour = KINDS[kind]
        self.setStyleSheet(
            f"Banner {{ background: {background}; }} QLabel {{ color: {colour}; }} QLabel a {{ color: {colour}; }}"
        )
        self.label.setText(text)
        self._details = details
        self.action.setVisible(action is not None)
        self.action.setText(action or "")
        self.more.setChecked(False)
        self._update_details_button()
        self.show()

    def _update_details_button(self, *_: object) -> None:
        self.more.setVisible(bool(self._details) or self.label.elided)

    def _show_details(self, shown: bool) -> None:
        full = self.label.full_text if self.label.elided else ""
        self.details.setText("<br>".join(part for part in (full, self._details) if part))
        self.details.setVisible(shown)
        self.more.setText("Less" if shown else "Details")
