"""Small Qt helpers shared by the panels and dialogs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QSpinBox, QWidget


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
