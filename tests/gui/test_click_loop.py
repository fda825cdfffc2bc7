"""The core loop on the real window: click, predict, heatmap, correct, drag, delete, undo, keys.

Runs on the weights-free SIFT backend and on the tiny random Stable Diffusion model.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine import PromptSpec
from engine.frames import GridFrame
from sd4match_gui.controller.answer_wait import ANSWER_WAIT_MS
from sd4match_gui.views.coords import from_view
from sd4match_gui.views.image_panel import MAX_HEATMAP_SIDE, ImagePanel
from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import COLUMNS
from tests.gui.conftest import SIFT, TINY_SD, wait_idle
from tests.gui.helpers import click, drag, pixel_tolerance, widget_pos

TARGET = 0


@pytest.fixture(params=["sift", "tiny-sd"])
def app(request, make_app):
    if request.param == "sift":
        return make_app(request.getfixturevalue("sift_matcher"), SIFT)
    return make_app(request.getfixturevalue("tiny_matcher"), TINY_SD, prompt=PromptSpec("empty"))


def expected_match(app, matcher_name: str, request, src_xy):
    """What the engine itself predicts for ``src_xy`` with the app's settings."""
    matcher = request.getfixturevalue("sift_matcher" if matcher_name == "sift" else "tiny_matcher")
    settings = app.session.settings
    pair = matcher.prepare(*app.current_images, settings.prompt, settings.features)
    return pair.match(np.array([src_xy]), settings.localisation), pair


def test_click_on_source_shows_target_marker_and_heatmap(app, qtbot, request):
    canvas = app.window.canvas
    click(canvas, SOURCE, (210.0, 180.0))
    # The source marker, numbered, is drawn with the answer, which comes within milliseconds; at
    # the latest when the wait for it ends (controller/answer_wait.py).
    qtbot.waitUntil(lambda: [m.key for m in canvas.source.view.markers.markers] == [0], timeout=ANSWER_WAIT_MS + 500)
    assert canvas.source.view.markers.label_texts() == ["1"]
    wait_idle(qtbot, app)
    point = app.session.point(0)
    assert point.src_xy == pytest.approx((210.0, 180.0), abs=pixel_tolerance(canvas, SOURCE))

    result, pair = expected_match(app, request.node.callspec.params["app"], request, point.src_xy)
    assert point.trg_xy == pytest.approx(tuple(result.match_xy[0]))
    [marker] = canvas.targets[0].view.markers.markers
    assert marker.xy == point.trg_xy and marker.style == "predicted"
    panel = canvas.targets[0]
    assert panel.heatmap.isVisible()
    np.testing.assert_allclose(panel.heatmap_scores, pair.score_maps(np.array([point.src_xy]))[0], atol=1e-6)
    assert app.window.selection_label.text().startswith("point 1 · confidence ")


def heatmap_centre(panel: ImagePanel) -> tuple[float, float]:
    """Engine pixel at the weighted centre of the panel's heatmap (the item's own placement)."""
    shown = panel.heatmap.image
    rows, columns = np.mgrid[0 : shown.shape[0], 0 : shown.shape[1]]
    total = shown.sum()
    centre = QPointF((columns * shown).sum() / total + 0.5, (rows * shown).sum() / total + 0.5)
    return from_view(panel.heatmap.mapToParent(centre))


def assert_cells_centred(panel: ImagePanel, frame: GridFrame) -> None:
    """A one-cell map must be centred where ``frame.grid_to_pixels`` puts that cell.

    Its bilinear display is a symmetric tent around the cell centre, so the weighted centre finds
    that point to a few hundredths of a display pixel. Placement is affine, so three interior
    cells not on a line pin it everywhere (edge cells' tents are cut in half by the border).
    """
    for column, row in ((1, 1), (3, 5), (frame.grid_width - 2, frame.grid_height - 2)):
        one_cell = np.zeros((frame.grid_height, frame.grid_width), dtype=np.float32)
        one_cell[row, column] = 1.0
        panel.set_heatmap(one_cell, frame)
        shown = panel.heatmap.image.shape
        pitch = np.array([frame.image_width / shown[1], frame.image_height / shown[0]])
        expected = frame.grid_to_pixels(np.array([[column, row]], dtype=float))[0]
        assert (np.abs(np.subtract(heatmap_centre(panel), expected)) <= 0.1 * pitch).all()


def test_heatmap_is_smooth_and_cells_sit_where_the_grid_frame_puts_them(app, qtbot):
    click(app.window.canvas, SOURCE, (100.0, 100.0))
    wait_idle(qtbot, app)
    panel = app.window.canvas.targets[0]
    frame = app.model.results.heatmaps["current"].frame
    shown = panel.heatmap.image
    assert shown.shape == (frame.image_height, frame.image_width)  # resampled to the image, not one square a cell
    # Bilinear between cell centres: neighbouring pixels differ by at most a cell's full range over its width.
    cell = np.diff(frame.grid_to_pixels(np.array([[0.0, 0.0], [1.0, 1.0]])), axis=0)[0]
    assert np.abs(np.diff(shown, axis=1)).max() <= 1 / cell[0] + 1e-3
    assert np.abs(np.diff(shown, axis=0)).max() <= 1 / cell[1] + 1e-3
    assert_cells_centred(panel, frame)


def test_a_large_image_gets_a_capped_heatmap_with_cells_still_in_place(qtbot):
    panel = ImagePanel("target")
    frame = GridFrame(3000, 2000, 768, 48, 48)
    panel.set_heatmap(np.random.default_rng(0).random((48, 48), dtype=np.float32), frame)
    assert panel.heatmap.image.shape == (round(2000 * MAX_HEATMAP_SIDE / 3000), MAX_HEATMAP_SIDE)
    assert_cells_centred(panel, frame)


def test_click_on_target_corrects_the_selected_point(app, qtbot):
    canvas = app.window.canvas
    click(canvas, SOURCE, (250.0, 250.0))
    wait_idle(qtbot, app)
    predicted = app.session.point(0).trg_xy
    click(canvas, TARGET, (120.0, 400.0))
    wait_idle(qtbot, app)
    point = app.session.point(0)
    assert point.status == "corrected"
    assert point.trg_xy == pytest.approx((120.0, 400.0), abs=pixel_tolerance(canvas, TARGET))
    assert point.prediction(app.model.results.variant_runs["current"]).xy == pytest.approx(predicted)
    [marker] = canvas.targets[0].view.markers.markers
    assert marker.style == "corrected" and marker.xy == point.trg_xy


def test_dragging_markers_moves_and_corrects(app, qtbot):
    canvas = app.window.canvas
    click(canvas, SOURCE, (200.0, 300.0))
    wait_idle(qtbot, app)
    start = app.session.point(0).trg_xy
    drag(canvas, TARGET, start, (start[0] + 40, start[1] - 30))
    wait_idle(qtbot, app)
    point = app.session.point(0)
    assert point.status == "corrected"
    assert point.trg_xy == pytest.approx((start[0] + 40, start[1] - 30), abs=2 * pixel_tolerance(canvas, TARGET))

    drag(canvas, SOURCE, point.src_xy, (320.0, 140.0))
    wait_idle(qtbot, app)
    moved = app.session.point(0)
    assert moved.src_xy == pytest.approx((320.0, 140.0), abs=2 * pixel_tolerance(canvas, SOURCE))
    assert moved.status == "predicted" and moved.trg_xy is not None  # re-predicted from the new source
    assert len(app.session.points()) == 1  # a drag on a marker never adds a point


def test_delete_undo_redo(app, qtbot):
    canvas, actions = app.window.canvas, app.window.actions
    for xy in ((100.0, 100.0), (300.0, 200.0), (200.0, 400.0)):
        click(canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    app.annotation.select(1)
    actions["delete"].trigger()
    assert [p.id for p in app.session.points()] == [0, 2]
    assert len(canvas.source.view.markers.markers) == 2
    actions["undo"].trigger()
    assert [p.id for p in app.session.points()] == [0, 1, 2] and app.session.selected == 1
    actions["undo"].trigger()  # the third click
    assert [p.id for p in app.session.points()] == [0, 1]
    actions["redo"].trigger()
    actions["redo"].trigger()
    assert [p.id for p in app.session.points()] == [0, 2]
    wait_idle(qtbot, app)
    assert [m.key for m in canvas.targets[0].view.markers.markers] == [0, 2]
    assert actions["redo"].isEnabled() is False and actions["undo"].toolTip() == "Undo delete point 2"


def test_keys_nudge_flag_accept_and_step(app, qtbot):
    window = app.window
    click(window.canvas, SOURCE, (150.0, 150.0))
    click(window.canvas, SOURCE, (350.0, 150.0))
    wait_idle(qtbot, app)
    window.canvas.setFocus()
    before = app.session.point(1).trg_xy
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Up)
    point = app.session.point(1)
    assert point.trg_xy == pytest.approx((before[0] + 1, before[1] - 1)) and point.status == "corrected"
    qtbot.keyClick(window.canvas, Qt.Key.Key_1)
    assert app.session.point(1).visibility == 1
    qtbot.keyClick(window.canvas, Qt.Key.Key_P)  # previous point
    assert app.session.selected == 0
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert app.session.point(0).status == "accepted"
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert app.session.point(0).status == "predicted"
    wait_idle(qtbot, app)  # the table follows the canvas's frame
    table = window.points_table
    status, visibility = COLUMNS.index("status"), COLUMNS.index("visibility")
    assert [table.item(r, status).text() for r in range(table.rowCount())] == ["predicted", "corrected"]
    assert table.item(1, visibility).text() == "1" and table.item(1, visibility).toolTip() == "1 occluded"


def test_changing_a_setting_repredicts_existing_points(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    click(app.window.canvas, SOURCE, (220.0, 330.0))
    wait_idle(qtbot, app)
    first_run = app.model.results.variant_runs["current"]
    settings = app.session.settings
    app.settings.set_engine(settings.prompt, settings.features, settings.localisation.__class__("argmax"))
    wait_idle(qtbot, app)
    point = app.session.point(0)
    new_run = app.model.results.variant_runs["current"]
    assert new_run != first_run and {p.run_id for p in point.predictions} == {first_run, new_run}
    assert app.session.runs.details(new_run)["matching"]["localisation"] == "argmax"
    assert point.trg_xy == point.prediction(new_run).xy
    assert app.window.engine_panel.localisation.currentText() == "argmax"


def test_lines_and_heatmap_toggle(app, qtbot):
    click(app.window.canvas, SOURCE, (260.0, 260.0))
    wait_idle(qtbot, app)
    canvas = app.window.canvas
    lines, panel = canvas.lines, canvas.targets[0]
    assert len(lines.links) == 1 and panel.heatmap.isVisible()
    spot = widget_pos(canvas, TARGET, (256.0, 520.0))  # away from markers and lines
    with_heatmap = canvas.grab().toImage().pixelColor(spot)
    app.window.colormap.setCurrentText("inferno")
    assert canvas.grab().toImage().pixelColor(spot) != with_heatmap  # re-coloured, not only restyled
    app.window.colormap.setCurrentText("viridis")
    assert canvas.grab().toImage().pixelColor(spot) == with_heatmap
    app.window.actions["toggle_lines"].trigger()
    app.window.actions["toggle_heatmap"].trigger()
    assert lines.links == [] and not panel.heatmap.isVisible()
    assert canvas.grab().toImage().pixelColor(spot) != with_heatmap  # the heatmap was really drawn
    assert app.session.settings.display.lines_visible is False


def test_clicking_a_marker_selects_it_instead_of_adding_or_correcting(app, qtbot):
    canvas = app.window.canvas
    click(canvas, SOURCE, (120.0, 120.0))
    click(canvas, SOURCE, (380.0, 300.0))
    wait_idle(qtbot, app)
    first = app.session.point(0)
    click(canvas, SOURCE, first.src_xy)
    assert app.session.selected == 0 and len(app.session.points()) == 2
    app.annotation.select(1)
    click(canvas, TARGET, first.trg_xy)  # on point 1's target marker: select it, do not correct point 2
    assert app.session.selected == 0
    assert app.session.point(1).status == "predicted" and app.session.point(0).status == "predicted"


def test_panning_and_zooming_never_place_a_point(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    view = app.window.canvas.source.view
    before = view.viewRange()
    drag(app.window.canvas, SOURCE, (300.0, 300.0), (200.0, 250.0))
    assert view.viewRange() != before  # the drag panned
    view.scaleBy((0.5, 0.5))
    assert app.session.points() == []


def test_empty_start_offers_the_demo(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT, demo=False)
    app.offer_start()
    banner = app.window.message_banner
    assert "Open two images" in banner.text and banner.action.text() == "Open demo pair"
    banner.action.click()
    wait_idle(qtbot, app)
    assert app.current_images is not None and app.session.pair.source.name == "astronaut.jpg"
