"""Autosave failures: the writer thread survives any error, and the window says what happened."""

from __future__ import annotations

import json
import shutil

from sd4match_gui.model.autosave import AutosaveWriter
from sd4match_gui.views.pair_canvas import SOURCE
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click


def test_the_writer_survives_an_error_that_is_not_an_os_error(tmp_path):
    outcomes = []
    writer = AutosaveWriter(outcomes.append)
    try:
        writer.submit(tmp_path / "a.json", {"value": object()})  # json.dumps raises TypeError
        assert writer.flush(timeout=5)  # not stuck waiting for a thread that died
        assert "autosave to" in (writer.last_error or "") and "not JSON serializable" in writer.last_error
        writer.submit(tmp_path / "b.json", {"value": 1})
        assert writer.flush(timeout=5)
        assert json.loads((tmp_path / "b.json").read_text()) == {"value": 1}
        assert writer.last_error is None
        assert [outcome is None for outcome in outcomes] == [False, True]
    finally:
        writer.close()


def test_a_failing_autosave_is_shown_in_the_window_until_it_works_again(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    folder = tmp_path / "sessions"
    assert app.files.save_session(folder / "work.json")
    shutil.rmtree(folder)
    folder.write_text("a file where the session's folder was")  # every write there now fails
    click(app.window.canvas, SOURCE, (120.0, 150.0))
    banner = app.window.message_banner
    qtbot.waitUntil(lambda: "autosave to" in banner.text, timeout=5000)
    assert "work.json" in banner.text and "Save session as" in banner.text
    assert app.files.writer.flush(timeout=5)  # the writer lives on

    folder.unlink()
    folder.mkdir()
    click(app.window.canvas, SOURCE, (260.0, 210.0))
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: "Autosave works again" in app.window.statusBar().currentMessage(), timeout=5000)
    assert len(json.loads((folder / "work.json").read_text())["pairs"][0]["keypoints"]) == 2
