"""The list of point pairs of the open image pair: number, label, coordinates, status, confidence,
and the error of the current variant's prediction where the point has a reference."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from ..model.correspondence import VISIBILITY_NAMES, Correspondence
from .widgets import signals_blocked

COLUMNS = ("#", "label", "source x, y", "target x, y", "status", "visibility", "confidence", "error px")
LABEL_COLUMN = 1
ERROR_TIP = (
    "Distance in target pixels from the current variant's prediction to the reference: the dataset's "
    "ground truth, or the target you accepted or corrected."
)


def _format_xy(xy: tuple[float, float] | None) -> str:
    return "—" if xy is None else f"{xy[0]:.1f}, {xy[1]:.1f}"


def _row(point: Correspondence, confidence: float | None, error: float | None) -> tuple[str, ...]:
    return (
        str(point.number),
        point.label,
        _format_xy(point.src_xy),
        _format_xy(point.trg_xy),
        point.status,
        f"{point.visibility} {VISIBILITY_NAMES[point.visibility]}",
        "—" if confidence is None else f"{confidence:.2f}",
        "—" if error is None else f"{error:.1f}",
    )


class PointsTable(QTableWidget):
    """Signals: point_selected(id), label_edited(id, text)."""

    point_selected = Signal(int)
    label_edited = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.horizontalHeaderItem(COLUMNS.index("error px")).setToolTip(ERROR_TIP)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # arrow keys stay with the nudge shortcuts
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.horizontalHeader().setStretchLastSection(True)
        self.setToolTip("Points of this pair; double-click a label to rename it.")
        self.itemSelectionChanged.connect(self._on_selection)
        self.itemChanged.connect(self._on_item_changed)
        self._ids: list[int] = []
        self._shown: tuple[list[tuple[str, ...]], int | None] = ([], None)
        self._sized_for: list[int] | None = None

    def set_points(
        self,
        points: list[Correspondence],
        confidences: dict[int, float],
        errors: dict[int, float],
        selected: int | None,
    ) -> None:
        """Show ``points``; ``confidences`` and ``errors`` map id -> the primary run's confidence and
        its error in target pixels (points without a reference or prediction are absent)."""
        rows = [_row(point, confidences.get(point.id), errors.get(point.id)) for point in points]
        if (rows, selected) == self._shown:
            return  # most redraws change other views only; rebuilding the table would cost milliseconds
        self._shown = (rows, selected)
        with signals_blocked(self):
            self.setRowCount(len(points))
            self._ids = [p.id for p in points]
            for row, values in enumerate(rows):
                for column, value in enumerate(values):
                    item = QTableWidgetItem(value)
                    if column != LABEL_COLUMN:
                        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.setItem(row, column, item)
            self.clearSelection()
            if selected in self._ids:
                self.selectRow(self._ids.index(selected))
        sizing = [max((len(row[column]) for row in rows), default=0) for column in range(len(COLUMNS))]
        if sizing != self._sized_for:  # measuring every cell costs milliseconds: only when a text got longer
            self.resizeColumnsToContents()
            self._sized_for = sizing

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) == 1:
            self.point_selected.emit(self._ids[rows.pop()])

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == LABEL_COLUMN and item.row() < len(self._ids):
            self.label_edited.emit(self._ids[item.row()], item.text())
