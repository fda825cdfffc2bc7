"""Status-bar progress: the stage name, a bar and a Cancel button; hidden while idle."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

CANCEL_TIP = "Stop at the next stage (Esc); a forward pass in flight finishes first."


class ProgressWidget(QWidget):
    """Signals: cancel_clicked()."""

    cancel_clicked = Signal()

    def __init__(self, cancel_tip: str = CANCEL_TIP, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stage = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(140)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip(cancel_tip)
        self.cancel.clicked.connect(self.cancel_clicked)
        for widget in (self.stage, self.bar, self.cancel):
            layout.addWidget(widget)
        self.hide()

    def show_stage(self, text: str, fraction: float) -> None:
        self.stage.setText(text)
        self.bar.setRange(0, 100)
        self.bar.setValue(round(100 * fraction))
        self.show()

    def show_busy(self, text: str) -> None:
        """Work of unknown length: a bar that keeps moving."""
        self.stage.setText(text)
        self.bar.setRange(0, 0)
        self.show()
