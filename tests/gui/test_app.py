"""Starting the app: entry point, the no-weights banner, discoverability (F1, tooltips, status bar)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from engine import Matcher, ModelSources
from sd4match_gui import app as app_module
from sd4match_gui.actions import ACTIONS
from sd4match_gui.main_window import MainWindow
from sd4match_gui.model.settings import SessionSettings
from sd4match_gui.preferences import AppPreferences, PreferenceStore
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import REPO
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click, widget_pos


def test_main_opens_the_demo_and_returns_on_close(qtbot, tmp_path):
    # Preferences as a user who chose SIFT at a small input size (default QSettings, isolated by conftest).
    PreferenceStore().save(AppPreferences(settings=SessionSettings(features=SIFT)))
    seen = {}

    def close_when_ready() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].canvas.source.view.image_size == (0, 0):
            QTimer.singleShot(50, close_when_ready)
            return
        seen["title"] = windows[0].windowTitle()
        seen["icon"] = windows[0].windowIcon().pixmap(32, 32).toImage()
        windows[0].close()

    QTimer.singleShot(0, close_when_ready)
    assert app_module.main(["--demo"]) == 0
    assert "astronaut.jpg" in seen["title"] and "grace_hopper.jpg" in seen["title"]
    icon = seen["icon"]  # the bundled SVG, rendered: opaque in the middle, transparent in the rounded corner
    assert not icon.isNull() and icon.pixelColor(16, 16).alpha() == 255 and icon.pixelColor(0, 0).alpha() == 0


def test_command_line(capsys):
    done = subprocess.run(
        [sys.executable, "main.py", "--version"], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "sd4match-gui 0.1.0"
    with pytest.raises(SystemExit):
        app_module.parse_args(["--help"])
    assert "--demo" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        app_module.parse_args(["a.jpg", "b.jpg", "c.jpg"])


def test_without_weights_the_app_runs_on_sift_and_says_how_to_fetch_them(make_app, qtbot, tmp_path):
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, SIFT.__class__(backend="auto", size=SIFT.size))
    banner = app.window.weights_banner
    qtbot.waitUntil(banner.isVisible)
    assert "sd4match download" in banner.text and "dense SIFT" in banner.text
    assert app.window.backend_label.text() == "backend: sift"
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    assert app.session.point(0).trg_xy is not None
    run = app.session.runs.details(app.model.results.variant_runs["current"])
    assert run["backend"] == "sift"
    assert not app.window.message_banner.isVisible()  # the fallback is not an error


def test_cheat_sheet_lists_every_shortcut(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT, demo=False)
    app.window.actions["cheat_sheet"].trigger()
    sheet = app.settings.cheat_sheet
    assert sheet.isVisible()
    keys = [sheet.table.item(row, 0).text() for row in range(sheet.table.rowCount())]
    for spec in ACTIONS:
        if spec.shortcuts:
            assert " / ".join(spec.shortcuts) in keys
    assert "Click on a target" in keys


def test_tooltips_everywhere(make_app, sift_matcher):
    app = make_app(sift_matcher, SIFT, demo=False)
    assert all(action.toolTip() for action in app.window.actions.values())
    panel = app.window.engine_panel
    for widget in (panel.backend, panel.variant, panel.timestep, panel.layer, panel.ensemble, panel.localisation):
        assert widget.toolTip()


def test_status_bar_shows_cursor_pixels_and_selection(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    canvas = app.window.canvas
    position = QPointF(widget_pos(canvas, SOURCE, (100.0, 50.0)))
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        position,
        QPointF(canvas.viewport().mapToGlobal(position)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), event)
    qtbot.waitUntil(lambda: app.window.cursor_label.text().startswith("source"))
    x, y = (float(v) for v in app.window.cursor_label.text().split()[2:5:2])
    assert abs(x - 100.0) < 1.5 and abs(y - 50.0) < 1.5
    click(canvas, SOURCE, (150.0, 150.0))
    wait_idle(qtbot, app)
    record = app.session.point(0).predictions[0]
    assert f"confidence {record.confidence:.2f}" in app.window.selection_label.text()


def test_downloading_weights_reports_progress_and_rechecks(make_app, qtbot, tmp_path, monkeypatch):
    from engine.models import weights

    calls = []

    def fake_download(source, kind, tqdm_class=None, local_dir=None):
        bar = tqdm_class(total=4, desc="Fetching 4 files")
        for _ in range(4):
            bar.update(1)
        bar.close()
        calls.append((source, kind))

    monkeypatch.setattr(weights, "download_weights", fake_download)
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, SIFT.__class__(backend="auto", size=SIFT.size), demo=False)
    app.model.preferences = app.preferences.replace(sd="some-org/some-model")  # a hub id: the banner offers a download
    app.client.check_weights(app.preferences.engine_config())
    qtbot.waitUntil(lambda: app.window.weights_banner.action.text().startswith("Download"))
    stages = []
    app.settings.download.progress.connect(lambda stage, fraction: stages.append((stage, fraction)))
    with qtbot.waitSignal(app.settings.download.finished, timeout=10000) as finished:
        app.settings.start_download()
    assert finished.args == [""] and calls == [("some-org/some-model", "sd")]
    qtbot.waitUntil(lambda: "weights ready" in app.window.statusBar().currentMessage())  # handled on the GUI thread
    assert stages[-1] == ("download: Fetching 4 files", 1.0)
    assert not app.window.progress.isVisible()


def test_a_download_that_fails_unexpectedly_still_finishes_and_says_why(make_app, qtbot, tmp_path, monkeypatch):
    from engine.models import weights

    def broken_download(source, kind, tqdm_class=None, local_dir=None):
        raise RuntimeError("hub answered 502")

    monkeypatch.setattr(weights, "download_weights", broken_download)
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, SIFT.__class__(backend="auto", size=SIFT.size), demo=False)
    app.model.preferences = app.preferences.replace(sd="some-org/some-model")
    with qtbot.waitSignal(app.settings.download.finished, timeout=10000) as finished:
        app.settings.start_download()
    [error] = finished.args
    assert "some-org/some-model" in error and "RuntimeError: hub answered 502" in error
    qtbot.waitUntil(lambda: "hub answered 502" in app.window.message_banner.text)  # handled on the GUI thread
    assert not app.window.progress.isVisible() and not app.settings.download.running
