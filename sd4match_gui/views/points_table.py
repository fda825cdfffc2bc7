"""The list of point pairs of the open image pair: number, label, status, confidence, the error of
the current variant's prediction where the point has a reference, visibility and coordinates.

The columns an annotator reads at every click come first and are narrow, so that they fit a
normal dock without scrolling (the visibility column shows the COCO flag, its name in the cell's
tooltip); the coordinates follow. The label column takes what the dock's
width leaves after the other important columns, up to its longest label: in a narrow dock it
elides labels so that the error column stays in sight, in a wide one it shows them whole (until
the user sizes it by hand). Updates touch only the rows that changed (a click adds one row, an
answer changes one or two), so their cost does not grow with the points.
"""

from __future__ import annotations

import itertools
import math
import operator

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from engine.export.document import VISIBILITY_NAMES, Keypoint

COLUMNS = ("#", "label", "status", "confidence", "error px", "visibility", "source x, y", "target x, y")
LABEL_COLUMN = COLUMNS.index("label")
NUMBER_COLUMN = COLUMNS.index("#")
ERROR_TIP = (
    "Distance in target pixels from the current variant's prediction to the reference: the dataset's "
    "ground truth, or the target you accepted or corrected."
)
# What each column's header shows (narrow), and the widest text it usually holds (for its width).
HEADERS = {"confidence": "conf.", "error px": "error", "visibility": "v"}  # v: COCO's name for the flag
TYPICAL = {
    "#": "00",  # widened to the largest number shown
    "label": "label000",
    "status": "corrected",
    "confidence": "0.00",
    "error px": "000.0",
    "visibility": "2",  # the flag; its name is the cell's tooltip
    "source x, y": "0000.0, 0000.0",
    "target x, y": "0000.0, 0000.0",
}
HEADER_TIPS = {
    "confidence": "The current variant's confidence in the prediction, 0-1.",
    "error px": ERROR_TIP,
    "visibility": "COCO visibility: 0 not labelled, 1 occluded, 2 visible (keys 0, 1, 2).",
}
IMPORTANT = COLUMNS.index("visibility") + 1  # the first columns, visible without scrolling
VISIBILITY_COLUMN = COLUMNS.index("visibility")
CELL_PADDING = 14  # pixels around a cell's text
LABEL_MIN = 2  # characters the label column keeps in a narrow dock (labels elide; the others must fit)
LEAST_PADDING = 8  # pixels around the text of the other important columns in a narrow dock


def _format_xy(xy: tuple[float, float] | None) -> str:
    return "—" if xy is None else f"{xy[0]:.1f}, {xy[1]:.1f}"


def _row(point: Keypoint, confidence: float | None, error: float | None) -> tuple[str, ...]:
    return (
        str(point.number),
        point.label,
        point.status,
        "—" if confidence is None else f"{confidence:.2f}",
        "—" if error is None else f"{error:.1f}",
        str(point.visibility),
        _format_xy(point.src_xy),
        _format_xy(point.trg_xy),
    )


_ID = operator.attrgetter("id")  # a point's id, at C speed


class PointsTable(QTableWidget):
    """Signals: point_selected(id), label_edited(id, text)."""

    point_selected = Signal(int)
    label_edited = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([HEADERS.get(name, name) for name in COLUMNS])
        for name, tip in HEADER_TIPS.items():
            self.horizontalHeaderItem(COLUMNS.index(name)).setToolTip(tip)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # arrow keys stay with the nudge shortcuts
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # fixed widths: no per-row measuring
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(16)  # the one-digit visibility column
        metrics = self.fontMetrics()
        self._texts = []  # per column: pixels of its usual text (or its header); "#": of the largest number
        for column, name in enumerate(COLUMNS):
            shown = max(metrics.horizontalAdvance(TYPICAL[name]), metrics.horizontalAdvance(HEADERS.get(name, name)))
            self._texts.append(shown)
            self.setColumnWidth(column, shown + CELL_PADDING)
        self._label_typical = self.columnWidth(LABEL_COLUMN)
        self._label_widest = self._label_typical  # of the labels shown (and the header), with padding
        self._label_widths: dict[str, int] = {}
        self._label_by_hand = False  # the user sized an important column: leave them as they are
        self._fitting = False
        header.sectionResized.connect(self._on_section_resized)
        self.setToolTip("Points of this pair; double-click a label to rename it.")
        self.itemSelectionChanged.connect(self._on_selection)
        self.itemChanged.connect(self._on_item_changed)
        self._ids: list[int] = []
        self._rows: list[tuple[str, ...]] = []
        self._selected: int | None = None
        self._formatted: dict[int, tuple[Keypoint, float | None, float | None, tuple[str, ...]]] = {}
        # What the rows were made of, one entry per row: the points, their confidences and errors.
        self._made_of: tuple[list[Keypoint], list[float | None], list[float | None]] = ([], [], [])
        self._updating = False  # our own changes are not the user's (no signal blocking: see set_points)

    def sizeHint(self) -> QSize:
        """Wide enough for the important columns (the dock's default width follows it)."""
        hint = super().sizeHint()
        width = sum(self.columnWidth(c) for c in range(IMPORTANT) if c != LABEL_COLUMN) + self._label_typical
        width += self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:  # the dock was resized, or a scroll bar came or went
            self._fit_label_column()
        return super().viewportEvent(event)

    def _fit_label_column(self) -> None:
        """The label column gets the viewport's width left by the other important columns, between
        ``LABEL_MIN`` characters and the widest label; where that leaves the widest label too little,
        the other important columns first give up padding, down to ``LEAST_PADDING``."""
        if self._label_by_hand:
            return
        others = [c for c in range(IMPORTANT) if c != LABEL_COLUMN]
        least = self.fontMetrics().horizontalAdvance("0" * LABEL_MIN) + LEAST_PADDING
        short = sum(self._texts[c] + CELL_PADDING for c in others) + self._label_widest - self.viewport().width()
        padding = CELL_PADDING - min(CELL_PADDING - LEAST_PADDING, max(0, math.ceil(short / len(others))))
        widths = {c: self._texts[c] + padding for c in others}
        widths[LABEL_COLUMN] = max(least, min(self._label_widest, self.viewport().width() - sum(widths.values())))
        self._fitting = True
        for column, width in widths.items():
            if width != self.columnWidth(column):
                self.setColumnWidth(column, width)
        self._fitting = False

    def _on_section_resized(self, column: int, _old: int, _new: int) -> None:
        if column < IMPORTANT and not self._fitting:
            self._label_by_hand = True  # the user sizes the columns now

    def set_points(
        self,
        points: list[Keypoint],
        confidences: dict[int, float],
        errors: dict[int, float],
        selected: int | None,
    ) -> None:
        """Show ``points``; ``confidences`` and ``errors`` map id -> the primary run's confidence and
        its error in target pixels (points without a reference or prediction are absent).

        Signals are not blocked while rows change: the header and the scroll bars are child widgets
        whose signals lay the rows out and repaint them (blocking them left rows of the previous
        pair on screen). The user-facing signals are muted by ``_updating`` instead.
        """
        ids = list(map(_ID, points))
        rows = self._rows_of(points, list(map(confidences.get, ids)), list(map(errors.get, ids)))
        if rows == self._rows and ids == self._ids and selected == self._selected:
            return
        self._updating = True
        try:
            self._update_rows(ids, rows)
            if selected != self._selected or selected not in self._ids:
                self.clearSelection()
                if selected in ids:
                    self.selectRow(ids.index(selected))
                    self.scrollToItem(self.item(ids.index(selected), 0))
            self._selected = selected
        finally:
            self._updating = False

    def _rows_of(
        self, points: list[Keypoint], confidences: list[float | None], errors: list[float | None]
    ) -> list[tuple[str, ...]]:
        """The rows' texts: those of the previous call where the point, its confidence and its error
        at that row are the same (compared at C speed: a click among a thousand points formats one)."""
        old_points, old_confidences, old_errors = self._made_of
        same = map(
            all,
            zip(
                map(operator.is_, points, old_points),
                map(operator.eq, confidences, old_confidences),
                map(operator.eq, errors, old_errors),
                strict=True,
            ),
        )
        kept = min(len(points), len(self._rows))
        rows = self._rows[:kept]
        for row in itertools.compress(itertools.count(), map(operator.not_, same)):
            rows[row] = self._formatted_row(points[row], confidences[row], errors[row])
        rows += map(self._formatted_row, points[kept:], confidences[kept:], errors[kept:])
        self._made_of = (points, confidences, errors)
        return rows

    def _formatted_row(self, point: Keypoint, confidence: float | None, error: float | None) -> tuple[str, ...]:
        """The texts of a point's row, formatted again only when the point or its numbers changed."""
        cached = self._formatted.get(point.id)
        if cached is not None and cached[0] is point and cached[1] == confidence and cached[2] == error:
            return cached[3]
        row = _row(point, confidence, error)
        self._formatted[point.id] = (point, confidence, error, row)
        return row

    def _update_rows(self, ids: list[int], rows: list[tuple[str, ...]]) -> None:
        """Remove and insert the rows between the unchanged beginning and end, then set changed cells."""
        old_ids, old_rows = self._ids, self._rows
        start, common = 0, min(len(ids), len(old_ids))
        while start < common and ids[start] == old_ids[start]:
            start += 1
        end = 0  # rows kept at the end
        while end < common - start and ids[-1 - end] == old_ids[-1 - end]:
            end += 1
        model = self.model()
        if len(old_ids) - end > start:  # one block: one signal, however many rows (a pair change)
            model.removeRows(start, len(old_ids) - end - start)
        if len(ids) - end > start:
            model.insertRows(start, len(ids) - end - start)
        for row in range(start, len(ids) - end):
            for column, text in enumerate(rows[row]):
                self.setItem(row, column, self._item(column, text))
        kept = [*range(start), *range(len(ids) - end, len(ids))]
        offset = len(old_ids) - len(ids)
        relabelled = len(old_ids) - end > start  # rows went: the widest label may have gone
        same = map(
            operator.is_, [rows[row] for row in kept], [old_rows[row if row < start else row + offset] for row in kept]
        )
        for row in itertools.compress(kept, map(operator.not_, same)):
            old = old_rows[row if row < start else row + offset]
            for column, (text, before) in enumerate(zip(rows[row], old, strict=True)):
                if text != before:
                    self._set_text(self.item(row, column), column, text)
                    relabelled |= column == LABEL_COLUMN
        self._ids, self._rows = ids, rows
        added = rows[start : len(ids) - end]
        if relabelled or any(row[LABEL_COLUMN] for row in added):
            measured, widest = (rows, self._label_typical) if relabelled else (added, self._label_widest)
            self._label_widest = max([widest, *(self._label_width(row[LABEL_COLUMN]) for row in measured)])
            self._fit_label_column()
        self._fit_number_column(rows)
        if len(self._formatted) > len(ids):
            self._formatted = {i: self._formatted[i] for i in ids if i in self._formatted}

    def _fit_number_column(self, rows: list[tuple[str, ...]]) -> None:
        """The "#" column as wide as its largest number (rows are sorted by number: the last), so a
        pair of a few points leaves its room to the label."""
        metrics = self.fontMetrics()
        digits = len(rows[-1][NUMBER_COLUMN]) if rows else 1
        width = max(metrics.horizontalAdvance("0" * max(2, digits)), metrics.horizontalAdvance(COLUMNS[NUMBER_COLUMN]))
        if width != self._texts[NUMBER_COLUMN]:
            self._texts[NUMBER_COLUMN] = width
            self._fit_label_column()

    def _label_width(self, text: str) -> int:
        """Pixels a label's cell needs (measured once per text: datasets repeat their labels)."""
        width = self._label_widths.get(text)
        if width is None:
            width = self._label_widths[text] = self.fontMetrics().horizontalAdvance(text) + CELL_PADDING
        return width

    @classmethod
    def _item(cls, column: int, text: str) -> QTableWidgetItem:
        item = QTableWidgetItem()
        cls._set_text(item, column, text)
        if column != LABEL_COLUMN:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        return item

    @staticmethod
    def _set_text(item: QTableWidgetItem, column: int, text: str) -> None:
        """A cell's text; a visibility flag also gets its name as the tooltip ("2": "visible")."""
        item.setText(text)
        if column == VISIBILITY_COLUMN:
            item.setToolTip(f"{text} {VISIBILITY_NAMES[int(text)]}")

    def _on_selection(self) -> None:
        if self._updating:
            return
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) == 1:
            self.point_selected.emit(self._ids[rows.pop()])

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if not self._updating and item.column() == LABEL_COLUMN and item.row() < len(self._ids):
            self.label_edited.emit(self._ids[item.row()], item.text())
