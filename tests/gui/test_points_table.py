"""The Points table shows the open pair's points, on screen and not only in its model, and its
important columns fit the dock without scrolling."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import COLUMNS
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import wait_idle
from tests.gui.helpers import click

IMPORTANT = ("#", "label", "status", "confidence", "error px", "visibility")  # what an annotator reads at each click
SPOTS = ((120.0, 150.0), (260.0, 210.0), (380.0, 330.0), (200.0, 420.0))


def on_screen(widget: QWidget) -> QImage:
    """What the window shows of ``widget`` now (the offscreen backing store), without repainting it."""
    window = widget.window()
    shot = window.screen().grabWindow(window.winId()).toImage()
    area = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return shot.copy(area).convertToFormat(QImage.Format.Format_RGB32)


def fresh(widget: QWidget) -> QImage:
    """``widget`` painted from its current state."""
    return widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def shown_numbers(app) -> list[str]:
    table = app.window.points_table
    return [table.item(row, COLUMNS.index("#")).text() for row in range(table.rowCount())]


def test_opening_other_images_leaves_no_rows_of_the_old_pair_on_screen(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    for xy in SPOTS:
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    qtbot.wait(50)  # painted
    viewport = app.window.points_table.viewport()
    with_points = on_screen(viewport)
    app.files.open_images(DEMO_TARGET, DEMO_SOURCE)
    wait_idle(qtbot, app)
    app.files.open_images(DEMO_SOURCE, DEMO_TARGET)
    wait_idle(qtbot, app)
    qtbot.wait(50)
    assert shown_numbers(app) == [] and app.window.selection_label.text().startswith("0 point(s)")
    assert on_screen(viewport) != with_points
    assert on_screen(viewport) == fresh(viewport)  # no ghost rows: the screen shows the empty table


def test_delete_removes_the_row_from_the_screen(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    for xy in SPOTS:
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    app.annotation.select(1)
    qtbot.wait(50)
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_Delete)
    wait_idle(qtbot, app)
    qtbot.wait(50)
    assert shown_numbers(app) == ["1", "3", "4"]
    viewport = app.window.points_table.viewport()
    assert on_screen(viewport) == fresh(viewport)


@pytest.mark.parametrize("size", [(800, 500), (1600, 1000)])
def test_important_columns_fit_the_dock_without_scrolling(make_app, qtbot, sift_matcher, size):
    """In a small window the label column gives way (labels elide) so the error stays in sight; in
    a large one every important column, the label included, shows its text whole."""
    app = make_app(sift_matcher, demo=False)
    app.window.resize(*size)
    qtbot.wait(100)  # the docks settle
    app.open_demo()
    wait_idle(qtbot, app)
    click(app.window.canvas, SOURCE, SPOTS[0])
    wait_idle(qtbot, app)
    app.annotation.set_label(0, "left_eye_corner")
    [point] = app.session.points()
    more = [dataclasses.replace(point, id=i, label="") for i in range(1, 1000)]  # the vertical scroll bar shows
    app.session.set_points(app.session.pair.pair_id, [point, *more])
    app.after_change()
    wait_idle(qtbot, app)
    qtbot.wait(50)
    table = app.window.points_table
    assert table.verticalScrollBar().isVisible()
    assert table.horizontalScrollBar().value() == 0
    small = size[0] < 1000
    for name in IMPORTANT:
        column = COLUMNS.index(name)
        right = table.columnViewportPosition(column) + table.columnWidth(column)
        assert right <= table.viewport().width(), f"{name} ends at {right} of {table.viewport().width()} px"
        if small and name == "label":
            continue  # elided to make room
        for row in (0, 999):
            text = table.item(row, column).text()
            assert table.fontMetrics().horizontalAdvance(text) < table.columnWidth(column), f"{name}: {text!r} cut"
