"""Keys typed into a text field belong to that field, not to the window's single-key shortcuts.

The main window's shortcuts are window-wide (``Return`` accepts a point, ``D`` opens the next pair,
arrows nudge, ``0``/``1``/``2`` set visibility ...), so that they work wherever the focus is in
the docks. Qt asks the focus widget first with a ``ShortcutOverride`` event; a line edit claims
printable keys that way but not ``Return``, ``Up`` or ``Down``, so without help ``Return`` in a
label editor accepted the selected point instead of committing the label. :class:`TextEntryKeys`
claims every key without Ctrl/Alt/Meta for text fields, spin boxes and combo boxes, so the key
press reaches the widget; keys with Ctrl (``Ctrl+S``, ``Ctrl+Z`` outside a field) and function
keys (``F1``) still reach the window. ``Escape`` stays with the window (cancel a computation)
except in a table cell editor, where it cancels the edit.

Tables are redrawn whenever the engine answers; :class:`TypingSafeDelegate` keeps such a redraw
from resetting a cell editor the user is typing in.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QStyledItemDelegate,
    QTextEdit,
    QWidget,
)

TYPING_WIDGETS = (QLineEdit, QAbstractSpinBox, QComboBox, QTextEdit, QPlainTextEdit)
# Modifiers that do not make a key a command: Shift types capitals, Keypad marks the number pad.
TYPING_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
FUNCTION_KEYS = range(Qt.Key.Key_F1.value, Qt.Key.Key_F35.value + 1)
# Looked up once: the filter sees every event of the application (some 100 a click).
SHORTCUT_OVERRIDE = QEvent.Type.ShortcutOverride


def in_item_editor(widget: QWidget) -> bool:
    """True for the editor of a table or list cell (a child of an item view's viewport)."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractItemView):
            return True
        parent = parent.parentWidget()
    return False


def belongs_to_widget(widget: QObject, event: QKeyEvent) -> bool:
    """Whether the key of ``event`` is typing for ``widget`` rather than a window command."""
    if not isinstance(widget, TYPING_WIDGETS) or not widget.isEnabled():
        return False
    if event.modifiers() & ~TYPING_MODIFIERS:
        return False
    key = event.key()
    if key in FUNCTION_KEYS:
        return False
    if key == Qt.Key.Key_Escape:
        return in_item_editor(widget)
    return True


class TextEntryKeys(QObject):
    """An application-wide event filter (install it on the ``QApplication``): accepting the
    ``ShortcutOverride`` of a typing key tells Qt to deliver the key to the focus widget instead of
    triggering a shortcut."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == SHORTCUT_OVERRIDE and belongs_to_widget(watched, event):
            event.accept()
            return True
        return False


class TypingSafeDelegate(QStyledItemDelegate):
    """The standard delegate, except that new data for a cell does not overwrite what the user has
    typed into its open editor (Qt reloads open editors when their cell changes)."""

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        if isinstance(editor, QLineEdit) and editor.isModified():
            return
        super().setEditorData(editor, index)
