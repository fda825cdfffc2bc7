"""The current variant's error per point and PCK on the pair, outside comparison mode."""

from __future__ import annotations

from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import COLUMNS
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click

TARGET = 0
ERROR_COLUMN = COLUMNS.index("error px")


def error_column(app) -> list[str]:
    table = app.window.points_table
    return [table.item(row, ERROR_COLUMN).text() for row in range(table.rowCount())]


def test_errors_and_pck_against_the_users_corrections(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    for xy in ((150.0, 150.0), (300.0, 200.0), (250.0, 350.0), (400.0, 420.0)):
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    assert error_column(app) == ["—"] * 4 and app.window.pck_label.text() == ""  # nothing vouched for yet
    run = app.model.results.variant_runs["current"]
    predicted = [point.prediction(run).xy for point in app.session.points()]
    # Corrections at chosen offsets from the predictions: 3-4-5 and 0-45-45 triangles.
    app.annotation.drop(TARGET, 0, predicted[0][0] + 3, predicted[0][1] + 4)
    down = 45 if predicted[1][1] + 45 < 599 else -45
    app.annotation.drop(TARGET, 1, predicted[1][0], predicted[1][1] + down)
    app.annotation.select(2)
    app.annotation.set_status("accepted")  # the prediction itself: error 0
    wait_idle(qtbot, app)

    assert error_column(app) == ["5.0", "45.0", "0.0", "—"]
    # theta = 600, the longer side of the 512 x 600 target: 5 and 0 <= 30 < 45 <= 60.
    label = app.window.pck_label
    assert label.text() == "PCK@0.05 / @0.1 over 3 reference point(s): current: 0.67 / 1.00"
    assert label.toolTip() == f"{label.text()}\ntheta = 600.0 px, the longer side of the target image"

    app.settings.set_variants("sift,sift@size=384")  # what runs without SD weights
    app.settings.set_compare_mode(True)  # the comparison panel scores every variant instead
    wait_idle(qtbot, app)
    assert label.text() == ""
