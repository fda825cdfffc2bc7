"""Small Qt helpers shared by the panels and dialogs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QSpinBox, QWidget


@contextlib.contextmanager
def signals_blocked(widget: QObject) -> Iterator[None]:
    """Block the signals of ``widget`` and its children while setters run (no feedback loops)."""
    objects = [widget, *widget.findChildren(QWidget)]
    previous = [o.blockSignals(True) for o in objects]
    try:
        yield
    finally:
        for obj, state in zip(objects, previous, strict=True):
            obj.blockSignals(state)


def combo(items: Iterable[str], tip: str, editable: bool = False) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    box.setEditable(editable)
    box.setToolTip(tip)
    return box


def spin(low: int, high: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)  # emit once the number is typed, not at every digit
    box.setToolTip(tip)
    return box


class ElidedLabel(QLabel):
    """One line of plain text cut with "…" to the width the layout gives it (never widening the
    window); the whole text is the tooltip.

    Signals:
        elision_changed(bool): whether the text is cut now.
    """

    elision_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full_text = ""
        self.elided = False

    def set_full_text(self, text: str) -> None:
        self.full_text = " ".join(text.split())  # one line: newlines would make it taller
        self.setToolTip(text)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, self.width())
        if shown != self.text():
            self.setText(shown)
        elided = shown != self.full_text
        if elided != self.elided:
            self.elided = elided
            self.elision_changed.emit(elided)
