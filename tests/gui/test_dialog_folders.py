"""File dialogs open in the folder last used for their kind of file, also in the next run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit

from sd4match_gui.app import build
from sd4match_gui.views.pair_canvas import SOURCE
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click


def answer_dialog(qtbot, target: Path | None, opened_in: list[str]) -> None:
    """When the next file dialog opens: note the folder it shows, then go to ``target``'s folder,
    type its name and press Enter (None: Escape), as a user does."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        opened_in.append(str(Path(dialog.directory().absolutePath()).resolve()))
        edit = dialog.findChild(QLineEdit, "fileNameEdit")
        if target is None:
            qtbot.keyClick(edit, Qt.Key.Key_Escape)
            return
        dialog.setDirectory(str(target.parent))
        edit.clear()
        qtbot.keyClicks(edit, target.name)
        qtbot.keyClick(edit, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)


def run_dialog(qtbot, window, action: str, target: Path | None) -> str:
    """Trigger ``action``, answer its dialog; the folder the dialog opened in."""
    opened_in: list[str] = []
    answer_dialog(qtbot, target, opened_in)
    window.actions[action].trigger()
    qtbot.waitUntil(lambda: bool(opened_in))
    return opened_in[0]


def test_save_and_export_dialogs_open_where_their_kind_was_last_saved(make_app, qtbot, sift_matcher, store, tmp_path):
    sessions, exports = tmp_path / "sessions", tmp_path / "exports"
    sessions.mkdir()
    exports.mkdir()
    app = make_app(sift_matcher, SIFT)
    click(app.window.canvas, SOURCE, (120.0, 150.0))
    wait_idle(qtbot, app)
    window = app.window
    run_dialog(qtbot, window, "save_session_as", sessions / "work")
    assert (sessions / "work.json").is_file()
    # Export has not been used yet: it opens where the last dialog was, then keeps its own folder.
    assert run_dialog(qtbot, window, "export", exports / "pairs") == str(sessions.resolve())
    assert (exports / "pairs.json").is_file()
    assert run_dialog(qtbot, window, "save_session_as", None) == str(sessions.resolve())
    assert run_dialog(qtbot, window, "export", None) == str(exports.resolve())
    assert run_dialog(qtbot, window, "open_session", None) == str(sessions.resolve())
    window.close()

    # The next run remembers both.
    again = build(store, lambda _config: sift_matcher)
    qtbot.addWidget(again.window)
    again.window.show()
    assert run_dialog(qtbot, again.window, "export", None) == str(exports.resolve())
    assert run_dialog(qtbot, again.window, "save_session_as", None) == str(sessions.resolve())
