"""File > Recover unsaved work: every untitled session kept in the recovery folder, newest first."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..model.autosave import RecoveryFile


class RecoveryDialog(QDialog):
    """One row per recovery file (when, pair, points); Reopen or Discard the selected one.

    Signals:
        reopen(Path): the user chose to continue this file's session (the dialog then closes).
        discard(Path): the user confirmed throwing this file away.
    """

    reopen = Signal(object)
    discard = Signal(object)

    def __init__(self, files: list[RecoveryFile], folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        intro = QLabel(f"Untitled sessions kept in {folder}, newest first:")
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files = QListWidget()
        for recovery in files:
            item = QListWidgetItem(recovery.describe())
            item.setData(Qt.ItemDataRole.UserRole, recovery.path)
            item.setToolTip(str(recovery.path))
            self.files.addItem(item)
        self.files.setCurrentRow(0)
        self.files.itemDoubleClicked.connect(lambda _item: self._reopen())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.reopen_button = QPushButton("Reopen")
        self.reopen_button.setToolTip("Continue the selected session; it keeps autosaving to its recovery file.")
        self.reopen_button.setDefault(True)
        self.discard_button = QPushButton("Discard…")
        self.discard_button.setToolTip("Delete the selected recovery file (asks first).")
        buttons.addButton(self.reopen_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.reopen_button.clicked.connect(self._reopen)
        self.discard_button.clicked.connect(self._discard)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.files)
        layout.addWidget(buttons)
        self.resize(560, 280)

    def _selected(self) -> QListWidgetItem | None:
        return self.files.currentItem()

    def _reopen(self) -> None:
        item = self._selected()
        if item is not None:
            self.accept()
            self.reopen.emit(item.data(Qt.ItemDataRole.UserRole))

    def _discard(self) -> None:
        item = self._selected()
        if item is None:
            return
        question = f"Discard the unsaved work of {item.text()}? This cannot be undone."
        if QMessageBox.question(self, "Discard unsaved work", question) != QMessageBox.StandardButton.Yes:
            return
        self.discard.emit(item.data(Qt.ItemDataRole.UserRole))
        self.files.takeItem(self.files.row(item))
        if self.files.count() == 0:
            self.accept()
