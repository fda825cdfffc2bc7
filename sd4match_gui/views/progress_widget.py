"""Status-bar progress: the step in words, a bar and a Cancel button; hidden while idle.

Its size never follows the text: the label has a fixed width (set from the window's) and cuts long text with "…" (the
whole text is its tooltip), so the status bar's other texts and the images never shift while the
steps of a long computation go by.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QSizePolicy, QToolButton, QWidget

from .widgets import ElidedLabel

CANCEL_TIP = "Stop the computation (Esc); the engine stops at the next block of the network it is running."
TEXT_WIDTH = 400  # px: "Preparing image 1 of 2 (Stable Diffusion, member 3/8) — about 40 s left" fits
MIN_TEXT_WIDTH = 120
BAR_WIDTH = 140


class ProgressWidget(QWidget):
    """Signals: cancel_clicked()."""

    cancel_clicked = Signal()

    def __init__(self, cancel_tip: str = CANCEL_TIP, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stage = ElidedLabel(elide=Qt.TextElideMode.ElideMiddle)  # the step, and the time left at its end
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

    def set_text_width(self, width: int) -> None:
        """The step's width: at most :data:`TEXT_WIDTH`, less in a narrow window (never below
        :data:`MIN_TEXT_WIDTH`)."""
        self.stage.setFixedWidth(min(TEXT_WIDTH, max(MIN_TEXT_WIDTH, width)))

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
