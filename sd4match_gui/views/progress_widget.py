"""Status-bar progress: the step in words, a bar and a Cancel button; hidden while idle.

Its size never follows the text: the label has a fixed width and cuts long text with "…" (the
whole text is its tooltip), so the status bar's other texts and the images never shift while the
steps of a long computation go by.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QSizePolicy, QToolButton, QWidget

from .widgets import ElidedLabel

CANCEL_TIP = "Stop the computation (Esc); the engine stops at the next block of the network it is running."
TEXT_WIDTH = 400  # px: "Preparing image 1 of 2 (Stable Diffusion, member 3/8) — about 40 s left" fits
BAR_WIDTH = 140


class ProgressWidget(QWidget):
    """Signals: cancel_clicked()."""

    cancel_clicked = Signal()

    def __init__(self, cancel_tip: str = CANCEL_TIP, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stage = ElidedLabel()
        self.stage.setFixedWidth(TEXT_WIDTH)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFixedWidth(BAR_WIDTH)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip(cancel_tip)
        self.cancel.clicked.connect(self.cancel_clicked)
        for widget in (self.stage, self.bar, self.cancel):
            layout.addWidget(widget)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.hide()

    def show_stage(self, text: str, fraction: float) -> None:
        self.stage.set_full_text(text)
        self.bar.setRange(0, 100)
        self.bar.setValue(round(100 * fraction))
        self.show()

    def show_busy(self, text: str) -> None:
        """Work of unknown length: a bar that keeps moving."""
        self.stage.set_full_text(text)
        self.bar.setRange(0, 0)
        self.show()
