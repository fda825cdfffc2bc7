"""The status bar and the Points table show one state per point: never "predicting…" beside
"predicted", and a reopened session's stored confidences before the engine answers again."""

from __future__ import annotations

from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import COLUMNS
from tests.gui.conftest import SIFT, wait_idle, wait_loaded
from tests.gui.helpers import click

SPOTS = ((200.0, 103.0), (243.0, 103.0), (222.0, 124.0))


def confidence_column(app) -> list[str]:
    table = app.window.points_table
    return [table.item(row, COLUMNS.index("confidence")).text() for row in range(table.rowCount())]


def test_a_point_waiting_for_its_prediction_is_not_called_predicted(make_app, qtbot, gated_matcher):
    app = make_app(gated_matcher.matcher, demo=False)
    gated_matcher.gate.clear()  # the features are being computed while the user clicks
    app.open_demo()
    qtbot.waitUntil(lambda: app.current_images is not None)
    click(app.window.canvas, SOURCE, SPOTS[0])
    qtbot.waitUntil(lambda: app.session.selected_point is not None)
    text = app.window.selection_label.text()
    assert text == "point 1 · predicting… · visible"  # not "predicting… · predicted"
    gated_matcher.gate.set()
    wait_idle(qtbot, app)
    assert app.window.selection_label.text().startswith("point 1 · confidence ")
    assert " · predicted · visible" in app.window.selection_label.text()


def test_a_reopened_session_shows_its_stored_confidences_before_the_engine_answers(
    make_app, qtbot, sift_matcher, gated_matcher, tmp_path
):
    first = make_app(sift_matcher, SIFT)
    for xy in SPOTS:
        click(first.window.canvas, SOURCE, xy)
    wait_idle(qtbot, first)
    stored = confidence_column(first)
    assert "—" not in stored
    path = tmp_path / "work.json"
    assert first.files.save_session(path)
    first.window.close()

    second = make_app(gated_matcher.matcher, SIFT, demo=False)
    gated_matcher.gate.clear()  # the recompute of the reopened pair waits
    second.files.open_session(path)
    qtbot.waitUntil(lambda: not second.files.loader.busy and second.current_images is not None, timeout=20000)
    qtbot.waitUntil(gated_matcher.held.is_set, timeout=20000)
    assert confidence_column(second) == stored
    selected = second.session.selected_point
    assert selected is not None
    assert f"confidence {stored[selected.id]} (saved) · predicted" in second.window.selection_label.text()
    gated_matcher.gate.set()
    wait_loaded(qtbot, second)
    assert confidence_column(second) == stored  # the same settings give the same numbers
    assert "(saved)" not in second.window.selection_label.text()
