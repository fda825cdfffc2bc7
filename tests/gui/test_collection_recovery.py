"""File > New collection from an untitled pair: the recovery banner appears only when work of the
pair is not in the collection."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from sd4match_gui.collection_benchmark import make_images
from sd4match_gui.model.autosave import recovery_files
from tests.gui.conftest import wait_idle
from tests.gui.helpers import click
from tests.gui.test_collections import label_template


def new_collection_by_dialog(qtbot, app, folder) -> None:
    app.window.actions["new_collection"].trigger()
    dialog = app.collection._dialog
    assert dialog is not None and dialog.use_source.isChecked()
    QTest.keyClicks(dialog.targets, str(folder))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.session.collection is not None)


def test_a_collection_made_from_the_untitled_pair_keeps_its_work_without_a_recovery_banner(
    make_app, qtbot, sift_matcher, tmp_path
):
    app = make_app(sift_matcher)
    label_template(qtbot, app, 3)  # named points on the source; the targets are the model's guesses
    wait_idle(qtbot, app)
    make_images(tmp_path / "set", 2)
    new_collection_by_dialog(qtbot, app, tmp_path / "set")
    assert [p.label for p in app.session.points()] == ["nose", "left_eye", "right_eye"]  # the work is here
    assert not app.window.message_banner.isVisible()  # nothing to recover
    assert recovery_files(exclude=app.files.recovery_path) == []


def test_corrections_on_the_pair_left_for_a_collection_are_kept_for_recovery(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher)
    label_template(qtbot, app, 3)
    wait_idle(qtbot, app)
    click(app.window.canvas, 0, (250.0, 180.0))  # the selected point's target corrected: not in a collection
    qtbot.waitUntil(lambda: app.session.selected_point.status == "corrected")
    parked = app.files.recovery_path
    make_images(tmp_path / "set", 2)
    new_collection_by_dialog(qtbot, app, tmp_path / "set")
    banner = app.window.message_banner
    assert banner.isVisible() and str(parked) in banner.label.full_text
    assert [kept.path for kept in recovery_files(exclude=app.files.recovery_path)] == [parked]
