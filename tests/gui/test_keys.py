"""Keys typed into text fields edit the field; single-key shortcuts work everywhere else."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from engine import PromptSpec
from sd4match_gui.actions import ACTIONS
from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import LABEL_COLUMN
from tests.gui.conftest import TINY_SD, wait_idle
from tests.gui.helpers import click

# Every shortcut that is one key without Ctrl/Alt, as Qt names it (function keys and Escape stay
# with the window on purpose).
SINGLE_KEYS = sorted(
    key
    for spec in ACTIONS
    for key in spec.shortcuts
    if "+" not in key and key != "Escape" and not re.fullmatch(r"F\d+", key)
)


def _qt_key(name: str) -> Qt.Key:
    return getattr(Qt.Key, f"Key_{name}")


def _double_click_label(table, qtbot) -> QLineEdit:
    """Press, release, double-click, release on the first row's label cell, as a mouse sends them
    (QTest's mouseDClick alone sends only the double-click event); returns the cell editor."""
    cell = table.visualItemRect(table.item(0, LABEL_COLUMN)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert table.state() == QAbstractItemView.State.EditingState
    return table.viewport().findChild(QLineEdit)


def _triggered(app) -> list[str]:
    fired: list[str] = []
    for name, action in app.window.actions.items():
        action.triggered.connect(lambda *_, name=name: fired.append(name))
    return fired


@pytest.fixture
def with_point(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    assert app.session.selected == 0 and app.session.point(0).status == "predicted"
    return app


def test_enter_commits_a_label_typed_into_the_points_table(with_point, qtbot):
    app = with_point
    table = app.window.points_table
    editor = _double_click_label(table, qtbot)
    qtbot.keyClicks(editor, "mouth")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState)  # the commit is queued
    point = app.session.point(0)
    assert point.label == "mouth"
    assert point.status == "predicted"  # Return committed the label; it did not accept the point
    assert table.item(0, LABEL_COLUMN).text() == "mouth"


def test_a_redraw_while_typing_a_label_keeps_the_typed_text(with_point, qtbot):
    app = with_point
    click(app.window.canvas, SOURCE, (300.0, 300.0))
    wait_idle(qtbot, app)
    table = app.window.points_table
    editor = _double_click_label(table, qtbot)  # point 1's label
    qtbot.keyClicks(editor, "mo")
    app.annotation.drop(0, 1, 250.0, 250.0)  # meanwhile point 2 changes: the table is redrawn
    wait_idle(qtbot, app)
    assert editor.text() == "mo"
    qtbot.keyClicks(editor, "uth")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState)
    assert [point.label for point in app.session.points()] == ["mouth", ""]


def test_escape_in_a_cell_editor_cancels_the_edit_only(with_point, qtbot):
    app = with_point
    table = app.window.points_table
    editor = _double_click_label(table, qtbot)
    fired = _triggered(app)
    qtbot.keyClicks(editor, "nose")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState)
    assert app.session.point(0).label == "" and fired == []


def test_no_single_key_shortcut_fires_while_typing_in_a_field(with_point, qtbot):
    app = with_point
    panel = app.window.engine_panel
    assert {"Return", "Enter", "0", "1", "2", "D", "A", "C", "F", "Delete", "Left", "Up"} <= set(SINGLE_KEYS)
    for field in (panel.size.lineEdit(), panel.localisation):
        field.setFocus()
        fired = _triggered(app)
        for name in SINGLE_KEYS:
            qtbot.keyClick(field, _qt_key(name))
        assert fired == [], f"{type(field).__name__}: {fired}"
        assert app.session.points() and app.session.point(0).status == "predicted"
    # Outside text fields the same keys are still commands.
    fired = _triggered(app)
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_Return)
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_F)
    assert fired == ["accept", "fit"]
    assert app.session.point(0).status == "accepted"


def test_a_spin_box_takes_typed_numbers_and_arrows(with_point, qtbot):
    app = with_point
    size = app.window.engine_panel.size
    target = app.session.point(0).trg_xy
    editor = size.lineEdit()
    editor.selectAll()
    qtbot.keyClicks(editor, "320")
    qtbot.keyClick(editor, Qt.Key.Key_Enter)  # the number pad's Enter
    assert app.session.settings.features.size == 320
    qtbot.keyClick(editor, Qt.Key.Key_Up)  # one step up, not a nudge of the selected target
    assert app.session.settings.features.size == 384
    wait_idle(qtbot, app)
    point = app.session.point(0)
    assert point.status == "predicted" and point.trg_xy is not None and point.trg_xy != (target[0], target[1] - 1)


def test_enter_in_the_category_box_sets_the_category(make_app, qtbot, tiny_matcher):
    app = make_app(tiny_matcher, TINY_SD, prompt=PromptSpec("class", category="cat"))
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    box = app.window.engine_panel.category
    assert box.isEnabled()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "dog")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert app.session.settings.prompt.category == "dog"
    assert app.session.point(0).status == "predicted"
    wait_idle(qtbot, app)
