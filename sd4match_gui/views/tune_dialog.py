"""The "Tune a prompt" dialog: the run's settings, then its progress and loss curve."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QCloseEvent, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.prompts.spec import LEARNED_VARIANTS

from .widgets import combo, signals_blocked, spin

TIPS = {
    "variant": "single: one prompt for every pair. class: one per category (pairs need a category). "
    "cpm: computed from the pair's DINOv2 features.",
    "name": "Name of the tuned set (letters, digits, '-'); it is saved in the prompt library under it.",
    "epochs": "Passes over the training pairs.",
    "batch": "Pairs per optimiser step (at most the number of pairs with points).",
    "learning_rate": "Adam's constant rate for the prompt (paper: 0.01; CPM's linear layers use 0.001).",
    "overwrite": "Start afresh even if the prompt library already holds a prompt of this name.",
}
ERROR_STYLE = "color: #d04040"


@dataclass(frozen=True)
class TuneChoices:
    """What the user chose: see :data:`TIPS`."""

    variant: str
    prompt_set: str
    epochs: int
    batch_size: int
    learning_rate: float
    overwrite: bool


class TuneDialog(QDialog):
    """Window-modal while open (the engine is busy training), but never blocking the event loop.

    Signals: start_clicked(), resume_clicked(), stop_clicked().
    """

    start_clicked = Signal()
    resume_clicked = Signal()
    stop_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tune a prompt on this session's points")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.variant = combo(LEARNED_VARIANTS, TIPS["variant"])
        self.name = QLineEdit()
        self.name.setValidator(QRegularExpressionValidator(QRegularExpression("[A-Za-z0-9-]+")))
        self.name.setToolTip(TIPS["name"])
        self.epochs = spin(1, 10_000, TIPS["epochs"])
        self.batch = spin(1, 1, TIPS["batch"])
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(1e-5, 1.0)
        self.learning_rate.setSingleStep(1e-3)
        self.learning_rate.setToolTip(TIPS["learning_rate"])
        self.overwrite = QCheckBox("Replace an earlier prompt of this name")
        self.overwrite.setToolTip(TIPS["overwrite"])
        self.data = QLabel()
        self.data.setWordWrap(True)
        self.stage = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(180)
        self.curve = self.plot.plot([], [], pen=pg.mkPen((86, 180, 233), width=2), symbol="o", symbolSize=5)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start = QPushButton("Start")
        self.resume = QPushButton("Resume")
        self.resume.setToolTip("Continue the stopped run from its last step")
        self.stop = QPushButton("Cancel")
        self.stop.setToolTip("Stop after the current step; the run's state is saved, so it can be resumed")
        close = QPushButton("Close")
        self.start.clicked.connect(self.start_clicked)
        self.resume.clicked.connect(self.resume_clicked)
        self.stop.clicked.connect(self.stop_clicked)
        close.clicked.connect(self.close)
        self._close = close
        self._layout(close)
        self._steps: tuple[list[float], list[float]] = ([], [])
        self.set_running(False, resumable=False)

    def _layout(self, close: QPushButton) -> None:
        form = QFormLayout()
        form.addRow("Prompt", self.variant)
        form.addRow("Name", self.name)
        form.addRow("Epochs", self.epochs)
        form.addRow("Pairs per step", self.batch)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("", self.overwrite)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.start, self.resume, self.stop, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.data)
        layout.addWidget(self.stage)
        layout.addWidget(self.bar)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(520, 560)

    # ---- setters ----

    def set_defaults(self, choices: TuneChoices, max_batch: int, data_text: str) -> None:
        with signals_blocked(self):
            self.variant.setCurrentText(choices.variant)
            self.name.setText(choices.prompt_set)
            self.epochs.setValue(choices.epochs)
            self.batch.setRange(1, max(1, max_batch))
            self.batch.setValue(choices.batch_size)
            self.learning_rate.setValue(choices.learning_rate)
            self.overwrite.setChecked(choices.overwrite)
        self.data.setText(data_text)

    def values(self) -> TuneChoices:
        return TuneChoices(
            self.variant.currentText(),
            self.name.text().strip(),
            self.epochs.value(),
            self.batch.value(),
            self.learning_rate.value(),
            self.overwrite.isChecked(),
        )

    def set_running(self, running: bool, resumable: bool) -> None:
        """Settings are frozen while a run goes; Resume is offered after a stopped run."""
        for widget in (self.variant, self.name, self.epochs, self.batch, self.learning_rate, self.overwrite):
            widget.setEnabled(not running)
        self.start.setEnabled(not running)
        self.resume.setVisible(resumable and not running)
        self.stop.setEnabled(running)
        self._close.setEnabled(not running)

    def clear_curve(self) -> None:
        self._steps = ([], [])
        self.curve.setData([], [])
        self.bar.setValue(0)
        self.message.setText("")

    def show_stage(self, text: str, fraction: float | None = None) -> None:
        self.stage.setText(text)
        if fraction is not None:
            self.bar.setValue(round(100 * fraction))

    def add_step(self, step: int, total: int, loss: float) -> None:
        steps, losses = self._steps
        steps.append(step)
        losses.append(loss)
        self.curve.setData(steps, losses)
        self.bar.setValue(round(100 * step / max(total, 1)))

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)

    @property
    def losses(self) -> list[float]:
        """The step losses drawn so far."""
        return list(self._steps[1])

    # A run keeps the engine busy and reports here: the dialog stays until it is cancelled.

    def reject(self) -> None:
        if not self.stop.isEnabled():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.stop.isEnabled():
            event.ignore()
        else:
            super().closeEvent(event)
