"""Untitled work parked in the recovery folder: the window says where it went, and every file is
offered back (newest first, with its pair and point count) to reopen or discard."""

from __future__ import annotations

import os
import shutil

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from sd4match_gui.model.autosave import recovery_files
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import SIFT, wait_idle, wait_loaded
from tests.gui.helpers import click


def park_two_sessions(app, qtbot, tmp_path) -> None:
    """Two points on the demo pair, then a folder's pair a-b with one point, each left by opening
    something else: two recovery files, the demo one older."""
    for xy in ((120.0, 150.0), (260.0, 210.0)):
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DEMO_SOURCE, folder / "a.jpg")
    shutil.copy(DEMO_TARGET, folder / "b.jpg")
    assert app.files.open_path(folder)
    wait_loaded(qtbot, app)
    click(app.window.canvas, SOURCE, (200.0, 300.0))
    wait_idle(qtbot, app)
    app.window.actions["open_demo"].trigger()
    wait_idle(qtbot, app)


def test_opening_another_pair_says_where_the_untitled_work_went(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    for xy in ((120.0, 150.0), (260.0, 210.0)):
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    parked = app.files.recovery_path
    app.window.actions["open_demo"].trigger()  # File > Open demo pair: another untitled session
    banner = app.window.message_banner
    assert banner.isVisible() and f"2 unsaved point(s) were kept in {parked}" in banner.label.full_text
    qtbot.mouseMove(app.window.canvas)  # a tooltip or hover hint must not take the news away
    qtbot.wait(50)
    assert banner.isVisible()
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)  # "Recover…" lists the parked file
    qtbot.waitUntil(lambda: app.files.recovery_dialog is not None and app.files.recovery_dialog.isVisible())
    app.files.recovery_dialog.close()
    [kept] = recovery_files(exclude=app.files.recovery_path)
    assert (kept.path, kept.points, kept.pair) == (parked, 2, "astronaut-grace_hopper")


def test_every_recovery_file_is_offered_newest_first_to_reopen_or_discard(make_app, qtbot, sift_matcher, tmp_path):
    first = make_app(sift_matcher, SIFT)
    park_two_sessions(first, qtbot, tmp_path)
    first.window.close()  # its own session has no points: it leaves no file
    files = recovery_files()
    assert [(f.pair, f.points) for f in files] == [("a-b", 1), ("astronaut-grace_hopper", 2)]
    newest, older = files
    os.utime(older.path, (newest.modified - 60, newest.modified - 60))  # a minute apart, whatever the clock did

    app = make_app(sift_matcher, SIFT, demo=False)
    app.offer_start()
    banner = app.window.message_banner
    assert "a-b · 1 point(s) (and 1 more)" in banner.text
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    dialog = app.files.recovery_dialog
    qtbot.waitUntil(dialog.isVisible)
    rows = [dialog.files.item(row).text() for row in range(dialog.files.count())]
    assert [row.split(" · ", 1)[1] for row in rows] == ["a-b · 1 point(s)", "astronaut-grace_hopper · 2 point(s)"]

    # Discard the newest (after saying yes), reopen the older one.
    def answer_yes() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer_yes)
            return
        qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer_yes)
    qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    assert not newest.path.exists() and dialog.files.count() == 1
    qtbot.mouseClick(dialog.reopen_button, Qt.MouseButton.LeftButton)
    wait_loaded(qtbot, app)
    assert len(app.session.points()) == 2 and app.session.pair.pair_id == "astronaut-grace_hopper"
    assert app.files.recovery_path == older.path and not dialog.isVisible()
