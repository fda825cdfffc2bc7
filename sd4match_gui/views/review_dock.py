"""The Review dock: a collection's images with a thumbnail, state and counts; no behaviour of its own.

One row per image, in the order the controller gives (file order, or least confident first):
thumbnail, file name, state (predicting, stopped, needs review, reviewed, failed) and counts ("12/15
accepted · 2 flagged"). Above: the order, the flag thresholds and the propagation progress with
Cancel; below: the bulk actions. Thumbnails are decoded small (:class:`QImageReader` with a
scaled size) one per event-loop turn, so a folder of hundreds of photos never blocks the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .progress_widget import ProgressWidget

THUMBNAIL = QSize(64, 48)
STATE_COLOURS = {
    "predicting": "#8a8a8a",
    "stopped": "#8a8a8a",
    "needs review": "#c77800",
    "reviewed": "#2e7d32",
    "failed": "#c62828",
}


@dataclass(frozen=True)
class ReviewRow:
    """What one row shows."""

    pair_id: str
    path: Path
    name: str
    state: str
    counts: str
    current: bool


class ReviewDock(QWidget):
    """Signals:
    image_chosen(str): a row was clicked (its pair id).
    order_changed(bool): "least confident first" toggled.
    thresholds_changed(float, float): max cycle error (share of the template's side), min confidence.
    accept_image(), accept_all(), clear_image(), cancel_clicked(): the buttons.
    """

    image_chosen = Signal(str)
    order_changed = Signal(bool)
    thresholds_changed = Signal(float, float)
    accept_image = Signal()
    accept_all = Signal()
    clear_image = Signal()
    cancel_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.least_confident_first = QCheckBox("Least confident first")
        self.least_confident_first.setToolTip("Sort images by their least confident unreviewed prediction.")
        self.max_cycle = QDoubleSpinBox()
        self.max_cycle.setRange(0.0, 1.0)
        self.max_cycle.setDecimals(3)
        self.max_cycle.setSingleStep(0.005)
        self.max_cycle.setToolTip(
            "Flag a prediction whose cycle error (matched back to its template) exceeds this share of the "
            "template's longer side."
        )
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0.0, 1.0)
        self.min_confidence.setDecimals(3)
        self.min_confidence.setSingleStep(0.01)
        self.min_confidence.setToolTip("Flag a prediction whose confidence is below this.")
        self.progress = ProgressWidget("Stop propagating; images already predicted stay.")
        self.progress.stage.setFixedWidth(160)
        self.images = QListWidget()
        self.images.setIconSize(THUMBNAIL)
        self.images.setUniformItemSizes(True)
        self.accept_image_button = QPushButton("Accept passing")
        self.accept_image_button.setToolTip("Accept every prediction of this image that is not flagged.")
        self.accept_all_button = QPushButton("… on all images")
        self.accept_all_button.setToolTip("Accept every prediction that is not flagged, on every image.")
        self.clear_button = QPushButton("Clear image")
        self.clear_button.setToolTip("Drop this image's predictions and corrections; it is predicted again.")
        form = QFormLayout()
        form.addRow("Max cycle error", self.max_cycle)
        form.addRow("Min confidence", self.min_confidence)
        buttons = QHBoxLayout()
        for button in (self.accept_image_button, self.accept_all_button, self.clear_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.least_confident_first)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.images, 1)
        layout.addLayout(buttons)
        self._rows: list[ReviewRow] = []
        self._icons: dict[Path, QIcon] = {}
        self._to_decode: list[Path] = []
        self._decoder = QTimer(self)
        self._decoder.setInterval(0)
        self._decoder.timeout.connect(self._decode_one)
        self.images.itemClicked.connect(lambda item: self.image_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.least_confident_first.toggled.connect(self.order_changed)
        self.max_cycle.valueChanged.connect(self._thresholds_edited)
        self.min_confidence.valueChanged.connect(self._thresholds_edited)
        self.accept_image_button.clicked.connect(self.accept_image)
        self.accept_all_button.clicked.connect(self.accept_all)
        self.clear_button.clicked.connect(self.clear_image)
        self.progress.cancel_clicked.connect(self.cancel_clicked)

    def show_thresholds(self, max_cycle_error: float, min_confidence: float) -> None:
        for box, value in ((self.max_cycle, max_cycle_error), (self.min_confidence, min_confidence)):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)

    def show_rows(self, rows: Sequence[ReviewRow]) -> None:
        """Replace the rows (items are reused: a redraw of hundreds of rows costs no decoding)."""
        rows = list(rows)
        if rows == self._rows:
            return
        self._rows = rows
        self.images.blockSignals(True)
        while self.images.count() > len(rows):
            self.images.takeItem(self.images.count() - 1)
        while self.images.count() < len(rows):
            self.images.addItem(QListWidgetItem())
        current = -1
        for index, row in enumerate(rows):
            item = self.images.item(index)
            item.setData(Qt.ItemDataRole.UserRole, row.pair_id)
            item.setText(f"{row.name}\n{row.state} · {row.counts}")
            item.setForeground(QColor(STATE_COLOURS.get(row.state, "#000000")))
            item.setToolTip(str(row.path))
            icon = self._icons.get(row.path)
            item.setIcon(icon if icon is not None else QIcon())
            if icon is None and row.path not in self._to_decode:
                self._to_decode.append(row.path)
            if row.current:
                current = index
        self.images.setCurrentRow(current)
        self.images.blockSignals(False)
        if self._to_decode and not self._decoder.isActive():
            self._decoder.start()

    def thumbnails_pending(self) -> int:
        return len(self._to_decode)

    def _decode_one(self) -> None:
        if not self._to_decode:
            self._decoder.stop()
            return
        path = self._to_decode.pop(0)
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        self._icons[path] = QIcon(QPixmap.fromImage(image)) if not image.isNull() else QIcon()
        for index, row in enumerate(self._rows):
            if row.path == path:
                self.images.item(index).setIcon(self._icons[path])

    def _thresholds_edited(self) -> None:
        self.thresholds_changed.emit(self.max_cycle.value(), self.min_confidence.value())
