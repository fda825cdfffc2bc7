"""Pair lists (D / A), zooming onto the current point, and the persisted settings dialog."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.views.settings_dialog import SettingsDialog
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click


def test_next_and_previous_pair_keep_each_pairs_points(make_app, qtbot, sift_matcher, tmp_path):
    for index, image in enumerate((DEMO_SOURCE, DEMO_TARGET, DEMO_SOURCE)):
        shutil.copy(image, tmp_path / f"{index}-{image.name}")
    app = make_app(sift_matcher, SIFT, demo=False)
    assert app.files.open_path(tmp_path)
    wait_idle(qtbot, app)
    assert len(app.session.pairs) == 2 and app.window.canvas.source.view.image_size == (512, 512)
    click(app.window.canvas, SOURCE, (100.0, 100.0))
    wait_idle(qtbot, app)

    app.window.canvas.setFocus()
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_D)
    wait_idle(qtbot, app)
    assert app.session.current_index == 1 and app.session.points() == []
    assert app.window.canvas.source.view.image_size == (512, 600)  # grace_hopper is now the source
    assert "(2/2)" in app.window.windowTitle()
    click(app.window.canvas, SOURCE, (200.0, 300.0))
    wait_idle(qtbot, app)

    qtbot.keyClick(app.window.canvas, Qt.Key.Key_A)
    wait_idle(qtbot, app)
    assert app.session.current_index == 0 and len(app.session.points()) == 1
    assert app.session.point(0).trg_xy is not None
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_A)  # no pair before the first
    assert app.session.current_index == 0


def test_zoom_both_to_the_current_point(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    click(app.window.canvas, SOURCE, (300.0, 200.0))
    wait_idle(qtbot, app)
    app.window.actions["zoom_current"].trigger()
    point = app.session.point(0)
    for panel, xy in ((app.window.canvas.source, point.src_xy), (app.window.canvas.targets[0], point.trg_xy)):
        (left, right), (top, bottom) = panel.view.viewRange()
        assert abs((left + right) / 2 - (xy[0] + 0.5)) < 1 and abs((top + bottom) / 2 - (xy[1] + 0.5)) < 1
        assert right - left < 200  # zoomed in from the whole 512-pixel image
    app.window.actions["fit"].trigger()
    (left, right), _ = app.window.canvas.source.view.viewRange()
    assert right - left >= 512


def test_settings_dialog_values_persist(make_app, qtbot, sift_matcher, store, tmp_path):
    app = make_app(sift_matcher, SIFT, demo=False)
    checks = []

    def fill_and_accept() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsDialog) and w.isVisible())
        dialog.sd.setText(str(tmp_path / "my-sd"))
        dialog.prompts.setText(str(tmp_path / "prompts"))
        dialog.dtype.setCurrentText("float32")
        dialog.autosave.setChecked(False)
        checks.append(True)
        dialog.accept()

    QTimer.singleShot(0, fill_and_accept)
    app.window.actions["settings"].trigger()
    assert checks == [True]
    loaded = store.load()
    assert (loaded.sd, loaded.prompts, loaded.dtype, loaded.autosave) == (
        str(tmp_path / "my-sd"),
        str(tmp_path / "prompts"),
        "float32",
        False,
    )
    assert app.preferences.engine_config().sources.sd == str(tmp_path / "my-sd")
