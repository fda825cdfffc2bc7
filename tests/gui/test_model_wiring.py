"""The window follows the app model's events for state that used to change behind its back: the
session's file (title), and the engine's progress (status bar)."""

from __future__ import annotations

from sd4match_gui.controller.status_progress import PROGRESS_DELAY_MS
from sd4match_gui.views.pair_canvas import SOURCE
from tests.gui.conftest import wait_idle
from tests.gui.helpers import click


def test_saving_under_a_name_shows_it_in_the_window_title(make_app, sift_matcher, tmp_path) -> None:
    app = make_app(sift_matcher)
    assert app.window.windowTitle().endswith("(1/1) · unsaved")
    assert app.files.save_session(tmp_path / "my-session")
    assert app.session.path == tmp_path / "my-session.json"
    assert app.window.windowTitle().endswith("(1/1) · my-session.json")


def test_the_status_bar_renders_the_models_progress(qtbot, make_app, sift_matcher) -> None:
    """No engine signal involved: the model's progress is shown (after the delay that spares quick
    work a flashing bar), kept from going back within a request, and hidden when it ends."""
    app = make_app(sift_matcher)
    results, bar = app.model.results, app.window.progress
    assert results.progress is None and not bar.isVisible()
    results.report_progress(41, "Preparing image 1 of 2 — about 5 s left", 0.4)
    assert not bar.isVisible()  # not yet: most work ends within the delay
    qtbot.waitUntil(bar.isVisible, timeout=PROGRESS_DELAY_MS + 2000)
    assert bar.stage.full_text == "Preparing image 1 of 2 — about 5 s left" and bar.bar.value() == 40
    results.report_progress(41, "Matching", 0.1)  # the request's own pass after its extraction
    assert bar.stage.full_text == "Matching" and bar.bar.value() == 40
    results.end_progress()
    assert results.progress is None and not bar.isVisible()


def test_an_answered_request_ends_the_models_progress(qtbot, make_app, sift_matcher) -> None:
    app = make_app(sift_matcher)
    seen = []
    app.model.results.progress_changed.connect(seen.append)
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] is None, timeout=5000)
    assert any(p is not None and p.request_id == app.client.latest_id for p in seen)
    assert app.model.results.progress is None and not app.window.progress.isVisible()
