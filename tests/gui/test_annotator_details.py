"""Small things an annotator notices: the cursor readout, undo of a run of nudges, and the pixel
under a marker."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication

from engine import PromptSpec
from sd4match_gui.app import build
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click, hover, widget_pos

TARGET = 0


def test_the_cursor_readout_is_cleared_off_the_image_and_on_a_new_pair(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    canvas, readout = app.window.canvas, app.window.cursor_label
    hover(canvas, TARGET, (100.0, 120.0))
    assert readout.text().startswith("target  x ")
    hover(canvas, SOURCE, (-6.0, 256.0))  # in the source view, in the margin left of the image
    assert canvas.source.view.sceneBoundingRect().contains(canvas.mapToScene(widget_pos(canvas, SOURCE, (-6, 256))))
    assert readout.text() == ""
    hover(canvas, TARGET, (100.0, 120.0))
    assert readout.text() != ""
    app.files.open_images(DEMO_TARGET, DEMO_SOURCE)
    wait_idle(qtbot, app)
    assert readout.text() == ""  # the old pair's pixel says nothing about the new images


def test_the_readout_and_hover_preview_go_when_the_cursor_jumps_off_the_canvas(make_app, qtbot, sift_matcher):
    """A fast move from an image onto a dock sends no move over the canvas margin, only a Leave."""
    app = make_app(sift_matcher)
    canvas, readout = app.window.canvas, app.window.cursor_label
    hover(canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(app.hover.previews), timeout=5000)
    assert readout.text().startswith("source")
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))  # what Qt sends as the cursor lands on the dock
    assert readout.text() == "" and app.hover.previews == {}
    assert canvas.targets[TARGET].preview_xy is None


def test_a_run_of_nudges_of_one_point_is_one_undo_step(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    canvas = app.window.canvas
    click(canvas, SOURCE, (150.0, 150.0))
    click(canvas, SOURCE, (300.0, 300.0))
    wait_idle(qtbot, app)
    first, second = app.session.point(0), app.session.point(1)
    app.annotation.select(0)
    for _ in range(4):
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Down)
    assert app.session.point(0).trg_xy == pytest.approx((first.trg_xy[0] + 4, first.trg_xy[1] + 1))
    assert app.window.actions["undo"].toolTip() == "Undo nudge point 1"
    app.annotation.select(1)
    qtbot.keyClick(canvas, Qt.Key.Key_Left)  # another point: a step of its own
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert app.session.point(1) == second and app.session.point(0).status == "corrected"
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert app.session.point(0) == first  # all five nudges undone at once
    qtbot.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert app.session.point(0).trg_xy == pytest.approx((first.trg_xy[0] + 4, first.trg_xy[1] + 1))


def test_a_nudge_after_a_pause_or_another_action_is_a_new_step(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    canvas = app.window.canvas
    click(canvas, SOURCE, (150.0, 150.0))
    wait_idle(qtbot, app)
    start = app.session.point(0).trg_xy
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_1)  # occluded: another action ends the run
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    clock = iter([1000.0, 1005.0])
    app.session.history.clock = lambda: next(clock)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)  # five seconds later: a new step
    undo = app.window.actions["undo"]
    xs = []
    for _ in range(4):
        undo.trigger()
        xs.append(app.session.point(0).trg_xy[0])
    assert xs == pytest.approx([start[0] + 3, start[0] + 1, start[0] + 1, start[0]])


@pytest.mark.parametrize("panel", [SOURCE, TARGET])
def test_a_marker_leaves_the_pixel_it_stands_on_visible(make_app, qtbot, sift_matcher, panel):
    app = make_app(sift_matcher)
    canvas = app.window.canvas
    click(canvas, SOURCE, (200.0, 260.0))
    wait_idle(qtbot, app)
    point = app.session.point(0)
    xy = point.src_xy if panel == SOURCE else point.trg_xy
    spot = widget_pos(canvas, panel, xy)
    with_marker = canvas.grab().toImage().pixelColor(spot)
    view = canvas.panel(panel).view
    drawn_over = [item for item in [*view.addedItems, canvas.lines] if item is not canvas.panel(panel).image]
    for item in drawn_over:
        item.setVisible(False)
    without = canvas.grab().toImage().pixelColor(spot)  # the image (and heatmap) alone
    assert with_marker == without
    for item in drawn_over:
        item.setVisible(True)
    assert canvas.grab().toImage().pixelColor(spot.x() + 4, spot.y()) != without  # the marker is there


def test_undo_and_redo_are_off_until_a_pair_is_open_and_has_a_step(qtbot, store, sift_matcher):
    app = build(store, lambda _config: sift_matcher)  # as the app starts: no pair, nothing else done yet
    qtbot.addWidget(app.window)
    undo, redo = app.window.actions["undo"], app.window.actions["redo"]
    assert app.session.pair is None
    assert not undo.isEnabled() and not redo.isEnabled()
    assert undo.toolTip() == "Nothing to undo"
    app.settings.set_engine(PromptSpec(), SIFT)
    app.open_demo()
    wait_idle(qtbot, app)
    assert not undo.isEnabled()  # a pair, but nothing done yet
    click(app.window.canvas, SOURCE, (200.0, 260.0))
    wait_idle(qtbot, app)
    assert undo.isEnabled() and not redo.isEnabled()
