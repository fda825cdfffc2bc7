"""Small Qt helpers shared by the panels and dialogs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QSpinBox, QWidget

# Horizontal size policies under which a label's text has no say in its width.
WIDTH_SET_BY_LAYOUT = (QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)


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
    window), at its end unless told otherwise (``elide``); the whole text is the tooltip.

    :meth:`setText` and :meth:`text` mean the whole text, as on a plain QLabel, so the label can stand
    wherever a QLabel did; what is drawn is :attr:`shown_text`. Its size hint is the whole text's
    width and its minimum none: in a row it takes what it needs when there is room and gives way
    first when there is not.

    Signals:
        elision_changed(bool): whether the text is cut now.
    """

    elision_changed = Signal(bool)

    def __init__(
        self,
        parent: QWidget | None = None,
        hide_when_empty: bool = False,
        elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._elide_mode = elide
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full_text = ""
        self.elided = False
        self._note = ""
        self._hide_when_empty = hide_when_empty  # an empty text then gives its room to the neighbours

    def setText(self, text: str) -> None:
        text = " ".join(text.splitlines())  # one line: newlines would make it taller
        if text != self.full_text:
            self.full_text = text
            self._elide()
            if self.sizePolicy().horizontalPolicy() not in WIDTH_SET_BY_LAYOUT:
                self.updateGeometry()  # the width follows the text: the layout must ask again
        if self._hide_when_empty and self.isHidden() == bool(self.full_text):
            self.setVisible(bool(self.full_text))

    def text(self) -> str:
        return self.full_text

    @property
    def shown_text(self) -> str:
        return super().text()

    def setToolTip(self, note: str) -> None:
        """``note`` follows the whole text in the tooltip (the whole text alone is no note)."""
        self._note = "" if note == self.full_text else note
        self._update_tip()

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self.full_text) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, self._elide_mode, self.contentsRect().width())
        if shown != super().text():
            super().setText(shown)
        elided = shown != self.full_text
        self._update_tip()
        if elided != self.elided:
            self.elided = elided
            self.elision_changed.emit(elided)

    def _update_tip(self) -> None:
        super().setToolTip("\n".join(part for part in (self.full_text, self._note) if part))
