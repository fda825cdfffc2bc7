"""The Keypoints dock: the schema's names, which are placed, which is next; no behaviour of its own.

Rows show ``number  name`` and the name's state on the source image (placed as point N, not
visible, or free); the active name (the one the next source click takes) is the current row.
Typing a number while the list has the focus makes that name active (two digits typed within
:data:`DIGIT_PAUSE_MS` make one number, for schemas of ten names or more): the window's own digit
shortcuts (visibility) give way to the list while it has the focus.
"""

from __future__ import annotations

import itertools
import operator

from PySide6.QtCore import QElapsedTimer, QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

DIGIT_PAUSE_MS = 800
# (key, menu text) of the schema choices; the controller knows what each means.
SCHEMA_CHOICES = (
    ("none", "No names (numbered points)"),
    ("coco-person", "COCO person (17 keypoints)"),
    ("numbered", "Numbered names 1…N"),
    ("coco-file", "Import from a COCO keypoints file…"),
    ("schema-file", "Open a keypoint schema file…"),
    ("custom", "The names in use (from a file or the collection)"),
)


class NameList(QListWidget):
    """The names; digits typed here choose a name by number (``number_typed``)."""

    number_typed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._typed = ""
        self._since = QElapsedTimer()

    def event(self, event: QEvent) -> bool:
        # Take digits before the window's shortcuts do (they set a point's visibility elsewhere).
        if event.type() == QEvent.Type.ShortcutOverride and self._digit(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        digit = self._digit(event)
        if digit is None:
            super().keyPressEvent(event)
            return
        if not self._since.isValid() or self._since.elapsed() > DIGIT_PAUSE_MS:
            self._typed = ""
        self._typed += digit
        self._since.restart()
        number = int(self._typed)
        if number < 1 or number > self.count():  # "1" then "9" of a 17-name schema: start again at 9
            self._typed = digit
            number = int(digit)
        self.number_typed.emit(number)

    @staticmethod
    def _digit(event: QEvent) -> str | None:
        if not isinstance(event, QKeyEvent) or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return None
        text = event.text()
        return text if len(text) == 1 and text.isdigit() else None


class LabelDock(QWidget):
    """Signals:
    schema_chosen(str, int): a ``SCHEMA_CHOICES`` key and the numbered count.
    name_chosen(str): a name was clicked or typed by number.
    not_visible_clicked(): the "Not visible" button (for the active name).
    """

    schema_chosen = Signal(str, int)
    name_chosen = Signal(str)
    not_visible_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.schema_box = QComboBox()
        for key, text in SCHEMA_CHOICES:
            self.schema_box.addItem(text, key)
        # The choices' long texts must not widen the right column (the images get the width).
        self.schema_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.schema_box.setMinimumContentsLength(8)
        self.schema_box.setToolTip("The keypoint names a click on the source image places, in order.")
        self.count = QSpinBox()
        self.count.setRange(1, 99)
        self.count.setValue(10)
        self.count.setToolTip("How many names a numbered schema has")
        self.names = NameList()
        self._shown_names: list[str] = []  # the rows' names and (text, bold), as last shown
        self._shown_rows: list[tuple[str, bool]] = []
        self.names.setToolTip("Click a name, or type its number here, to place it (or move it) next.")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.not_visible = QPushButton("Not visible")
        self.not_visible.setToolTip(
            "The active keypoint is not visible on the source image: skip it (click again to undo)."
        )
        top = QHBoxLayout()
        top.addWidget(self.schema_box, 1)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.names, 1)
        layout.addWidget(self.not_visible)
        layout.addWidget(self.status)
        self.schema_box.activated.connect(lambda _i: self.schema_chosen.emit(self.schema_key(), self.count.value()))
        self.names.itemClicked.connect(lambda item: self.name_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.names.number_typed.connect(self._number_typed)
        self.not_visible.clicked.connect(self.not_visible_clicked)

    def schema_key(self) -> str:
        return str(self.schema_box.currentData())

    def show_choice(self, key: str, fixed: bool) -> None:
        """Show schema choice ``key``; ``fixed`` (a collection's schema) disables changing it."""
        self.schema_box.setCurrentIndex(max(self.schema_box.findData(key), 0))
        self.schema_box.setEnabled(not fixed)
        self.count.setEnabled(not fixed)

    def show_names(self, names: list[str], states: dict[str, str], active: str | None, status: str) -> None:
        """Rows for ``names`` (``states``: name -> "placed as 3" / "not visible"), ``active`` current.
        Only rows whose text or emphasis changed are touched (this runs after every click)."""
        self.names.blockSignals(True)
        if self._shown_names != names:
            self.names.clear()
            for name in names:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, name)
                self.names.addItem(item)
            self._shown_names, self._shown_rows = list(names), [("", False)] * len(names)
        rows = [
            (f"{row + 1:>2}  {name}" + (f"   — {state}" if (state := states.get(name, "")) else ""), name == active)
            for row, name in enumerate(names)
        ]
        for row in itertools.compress(itertools.count(), map(operator.ne, rows, self._shown_rows)):
            item, (text, bold) = self.names.item(row), rows[row]
            item.setText(text)
            font = item.font()
            font.setBold(bold)
            item.setFont(font)
        self._shown_rows = rows
        current = names.index(active) if active in names else -1
        if self.names.currentRow() != current:
            self.names.setCurrentRow(current)
        self.names.blockSignals(False)
        self.not_visible.setEnabled(active is not None)
        self.status.setText(status)

    def _number_typed(self, number: int) -> None:
        item = self.names.item(number - 1)
        if item is not None:
            self.name_chosen.emit(item.data(Qt.ItemDataRole.UserRole))
