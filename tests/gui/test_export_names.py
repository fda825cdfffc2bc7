"""Saving and exporting under the names a user types, with messages that name what was written,
and point numbers that read the same in the app and in every exported file."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QLineEdit

from engine.export.document import CorrespondenceDocument
from sd4match_gui.controller.save_dialogs import EXPORT_FORMATS
from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.points_table import COLUMNS
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click


def answer_save_dialog(qtbot, name: str, filter_steps: int = 0) -> None:
    """When the save dialog opens: pick the filter ``filter_steps`` below the first with the arrow
    key, type ``name`` and press Enter, as a user does."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        combo = dialog.findChild(QComboBox, "fileTypeCombo")
        for _ in range(filter_steps):
            qtbot.keyClick(combo, Qt.Key.Key_Down)
        edit = dialog.findChild(QLineEdit, "fileNameEdit")
        edit.clear()
        qtbot.keyClicks(edit, name)
        qtbot.keyClick(edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)


def test_save_session_as_adds_json_to_a_bare_name(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    click(app.window.canvas, SOURCE, (120.0, 150.0))
    wait_idle(qtbot, app)
    app.files.last_folder = str(tmp_path)
    answer_save_dialog(qtbot, "session1")
    qtbot.keyClick(app.window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    saved = tmp_path / "session1.json"
    assert saved.is_file() and not (tmp_path / "session1").exists()
    assert app.session.path == saved.resolve()
    assert str(saved) in app.window.statusBar().currentMessage()
    # A name given in code (a script, a platform dialog that adds nothing) gets it too.
    assert app.files.save_session(tmp_path / "session2") and (tmp_path / "session2.json").is_file()


def test_every_export_format_names_what_it_wrote(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    click(app.window.canvas, SOURCE, (120.0, 150.0))
    wait_idle(qtbot, app)
    status = app.window.statusBar()
    app.files.last_folder = str(tmp_path)
    steps = {f.name: index for index, f in enumerate(EXPORT_FORMATS)}

    answer_save_dialog(qtbot, "exp_labelme.json", steps["labelme"])
    app.window.actions["export"].trigger()
    folder = tmp_path / "exp_labelme"
    assert sorted(p.name for p in folder.iterdir()) == [
        "astronaut-grace_hopper_source.json",
        "astronaut-grace_hopper_target.json",
    ]
    assert not (tmp_path / "exp_labelme.json").exists()
    assert status.currentMessage() == f"Exported 1 pair(s) as 2 labelme file(s) in {folder}/"

    answer_save_dialog(qtbot, "spair", steps["spair"])
    app.window.actions["export"].trigger()
    assert status.currentMessage() == f"Exported 1 pair(s) as 1 SPair-71k JSON file(s) in {tmp_path / 'spair'}/"

    for fmt, name, written in (
        ("json", "plain", "plain.json"),
        ("coco", "coco", "coco.json"),
        ("pfpascal", "pf", "pf.csv"),
    ):
        answer_save_dialog(qtbot, name, steps[fmt])
        app.window.actions["export"].trigger()
        assert (tmp_path / written).is_file() and not (tmp_path / name).exists()
        assert status.currentMessage() == f"Exported 1 pair(s) to {tmp_path / written}"
    assert len(CorrespondenceDocument.load(tmp_path / "plain.json").pairs) == 1


def test_exports_number_and_name_points_as_the_app_shows_them(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    for xy in ((120.0, 150.0), (260.0, 210.0), (380.0, 330.0)):
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    second = app.session.points()[1]
    app.annotation.set_label(second.id, "mouth")
    wait_idle(qtbot, app)
    table = app.window.points_table
    shown = [
        (table.item(row, COLUMNS.index("#")).text(), table.item(row, COLUMNS.index("label")).text())
        for row in range(table.rowCount())
    ]
    assert shown == [("1", ""), ("2", "mouth"), ("3", "")]

    [source, _] = app.files.export(tmp_path / "lm", "labelme")
    shapes = json.loads(source.read_text())["shapes"]
    assert [(s["label"], s["group_id"]) for s in shapes] == [("1", 1), ("mouth", 2), ("3", 3)]
    [coco] = app.files.export(tmp_path / "coco", "coco")
    data = json.loads(coco.read_text())
    assert data["categories"][0]["keypoints"] == ["1", "mouth", "3"]
    assert data["annotations"][0]["point_numbers"] == [1, 2, 3]
    [spair] = app.files.export(tmp_path / "spair", "spair")
    assert json.loads(spair.read_text())["kps_ids"] == [1, 2, 3]
