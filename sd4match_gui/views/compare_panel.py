"""The comparison dock: variants (toggle, progress), the per-point table with spread, and PCK.

The table lists, per point, each variant's prediction and confidence, the spread between variants
(max pairwise distance, pixels and fraction of the image) and, where a reference exists (ground
truth or an approved target), each variant's error. Click a header to sort (e.g. by spread).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..model.comparison import PCK_ALPHAS, ComparisonRow
from .widgets import signals_blocked

EXPLORATORY_TIP = "exploratory: effect not established in the SD4Match paper"


@dataclass(frozen=True)
class VariantRow:
    """A variant as the list shows it."""

    name: str
    colour: tuple[int, int, int]
    enabled: bool
    exploratory: bool
    removable: bool = False  # a prompt tuned in the app (stock variants are edited as text)


def pck_summary(pck: dict[str, dict[float, float | None]], references: int) -> str:
    """One line: ``pck`` maps variant -> alpha -> PCK over the ``references`` points with a reference."""
    alphas = " / ".join(f"@{a:g}" for a in PCK_ALPHAS)
    parts = [
        f"{name}: " + " / ".join("—" if values[a] is None else f"{values[a]:.2f}" for a in PCK_ALPHAS)
        for name, values in pck.items()
    ]
    return f"PCK{alphas} over {references} reference point(s): " + ";  ".join(parts)


def _number_item(value: float | None, tip: str) -> QTableWidgetItem:
    """An item holding a number, so that sorting is numeric; empty while there is no value."""
    item = QTableWidgetItem()
    if value is not None:
        item.setData(Qt.ItemDataRole.DisplayRole, round(float(value), 4))
    item.setToolTip(tip)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _text_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class VariantList(QWidget):
    """One row per variant: a checkbox in the variant's colour, a progress bar, a state, and for
    tuned prompts a button that takes them off the list.

    Signals: toggled(name, on), removed(name).
    """

    toggled = Signal(str, bool)
    removed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QCheckBox] = {}
        self.bars: dict[str, QProgressBar] = {}
        self.remove_buttons: dict[str, QToolButton] = {}
        self._shown: list[tuple[str, bool]] = []

    def set_variants(self, rows: list[VariantRow]) -> None:
        shown = [(row.name, row.removable) for row in rows]
        if shown != self._shown:
            self._rebuild(rows)
            self._shown = shown
        for row in rows:
            with signals_blocked(self.boxes[row.name]):
                self.boxes[row.name].setChecked(row.enabled)

    def set_progress(self, name: str, text: str, fraction: float) -> None:
        bar = self.bars.get(name)
        if bar is not None:
            bar.setValue(round(100 * fraction))
            bar.setFormat(text)

    def _rebuild(self, rows: list[VariantRow]) -> None:
        while self._grid.count():
            self._grid.takeAt(0).widget().deleteLater()
        self.boxes, self.bars, self.remove_buttons = {}, {}, {}
        for index, row in enumerate(rows):
            box = QCheckBox(row.name + ("  (exploratory)" if row.exploratory else ""))
            box.setStyleSheet(f"QCheckBox {{ color: rgb{row.colour}; font-weight: bold; }}")
            box.setToolTip(EXPLORATORY_TIP if row.exploratory else "Show and compute this variant")
            box.toggled.connect(lambda on, name=row.name: self.toggled.emit(name, on))
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setTextVisible(True)
            bar.setFormat("")
            self._grid.addWidget(box, index, 0)
            self._grid.addWidget(bar, index, 1)
            self.boxes[row.name], self.bars[row.name] = box, bar
            if row.removable:
                remove = QToolButton()
                remove.setText("✕")
                remove.setToolTip("Take this tuned prompt off the list (its files stay in the prompt library)")
                remove.clicked.connect(lambda _=False, name=row.name: self.removed.emit(name))
                self._grid.addWidget(remove, index, 2)
                self.remove_buttons[row.name] = remove


class CompareTable(QTableWidget):
    """Signals: point_selected(id)."""

    point_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.verticalHeader().hide()
        self.itemSelectionChanged.connect(self._on_selection)
        self.columns: list[str] = []
        self._shown: tuple[list[ComparisonRow], list[str], dict[str, str]] = ([], [], {})

    def set_rows(self, rows: list[ComparisonRow], variants: list[str], failed: dict[str, str] | None = None) -> None:
        """``failed``: variant -> what its cells say instead of a prediction that will not come
        (e.g. "failed", "cancelled"); other missing predictions show "…" (still computing)."""
        failed = failed or {}
        if (rows, variants, failed) == self._shown:
            return  # unchanged: keep the user's sort order and save the rebuild
        self._shown = (list(rows), list(variants), dict(failed))
        with_reference = any(row.reference is not None for row in rows)
        self.columns = ["#", *variants, "spread px", "spread %"] + ([f"error {v}" for v in variants] * with_reference)
        with signals_blocked(self):
            self.setSortingEnabled(False)
            self.clear()
            self.setColumnCount(len(self.columns))
            self.setHorizontalHeaderLabels(self.columns)
            self.setRowCount(len(rows))
            for index, row in enumerate(rows):
                items = [_number_item(row.point.number, str(row.point.number))]
                for name in variants:
                    cell = row.cells.get(name)
                    if cell is None:
                        text = failed.get(name, "…")
                    else:
                        confidence = "" if cell.confidence is None else f"  ({cell.confidence:.2f})"
                        text = f"{cell.xy[0]:.1f}, {cell.xy[1]:.1f}{confidence}"
                    items.append(_text_item(text))
                items.append(_number_item(row.spread_px, "max distance between variants, pixels"))
                fraction = None if row.spread_fraction is None else 100 * row.spread_fraction
                items.append(_number_item(fraction, "spread / longer image side, percent"))
                if with_reference:
                    for name in variants:
                        cell = row.cells.get(name)
                        error = cell.error if cell is not None else None
                        items.append(_number_item(error, "distance to the reference point, pixels"))
                for column, item in enumerate(items):
                    item.setData(Qt.ItemDataRole.UserRole, row.point.id)
                    self.setItem(index, column, item)
            self.setSortingEnabled(True)
        self.resizeColumnsToContents()

    def column_values(self, header: str) -> list[object]:
        """The values of a column in display order (for tests and the benchmark)."""
        column = self.columns.index(header)
        return [self.item(r, column).data(Qt.ItemDataRole.DisplayRole) for r in range(self.rowCount())]

    def _on_selection(self) -> None:
        items = self.selectedItems()
        if items:
            self.point_selected.emit(int(items[0].data(Qt.ItemDataRole.UserRole)))


class ComparePanel(QWidget):
    """Signals: mode_toggled(bool), edit_clicked(), variant_toggled(name, on), variant_removed(name),
    point_selected(id)."""

    mode_toggled = Signal(bool)
    edit_clicked = Signal()
    variant_toggled = Signal(str, bool)
    variant_removed = Signal(str)
    point_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.mode = QCheckBox("Comparison mode")
        self.mode.setToolTip("Show one target view per variant (C)")
        self.mode.toggled.connect(self.mode_toggled)
        edit = QPushButton("Edit variants…")
        edit.setToolTip("Choose the variants to compare (Ctrl+Shift+C)")
        edit.clicked.connect(self.edit_clicked)
        top.addWidget(self.mode)
        top.addStretch(1)
        top.addWidget(edit)
        layout.addLayout(top)
        self.variants = VariantList()
        self.variants.toggled.connect(self.variant_toggled)
        self.variants.removed.connect(self.variant_removed)
        layout.addWidget(self.variants)
        self.table = CompareTable()
        self.table.point_selected.connect(self.point_selected)
        layout.addWidget(self.table, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

    def set_active(self, active: bool) -> None:
        with signals_blocked(self.mode):
            self.mode.setChecked(active)

    def set_summary(self, pck: dict[str, dict[float, float | None]], references: int) -> None:
        """``pck``: variant -> alpha -> PCK over the points with a reference."""
        if not references:
            self.summary.setText("Correct a point (or open a dataset pair) to see each variant's error and PCK.")
            return
        self.summary.setText(pck_summary(pck, references))
