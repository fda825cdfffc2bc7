"""The F1 cheat sheet: every shortcut and mouse gesture, generated from the action table."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..actions import ACTIONS, MOUSE_GESTURES


def cheat_sheet_rows() -> list[tuple[str, str, str]]:
    """(keys or gesture, command, explanation) for every action with a shortcut, then the mouse."""
    rows = [(" / ".join(spec.shortcuts), spec.text.rstrip("…"), spec.tip) for spec in ACTIONS if spec.shortcuts]
    return rows + [(gesture, "", meaning) for gesture, meaning in MOUSE_GESTURES]


class CheatSheet(QDialog):
    """A non-modal window listing :func:`cheat_sheet_rows`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts and mouse")
        rows = cheat_sheet_rows()
        table = QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(("Keys / mouse", "Command", "What it does"))
        table.verticalHeader().hide()
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                table.setItem(row, column, QTableWidgetItem(value))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.table = table
        self.resize(760, 640)
