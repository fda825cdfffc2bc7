"""Starting the app like other desktop tools: what the command line opens, and what it refuses."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from sd4match_gui import app as app_module
from sd4match_gui.main_window import MainWindow
from sd4match_gui.model.settings import SessionSettings
from sd4match_gui.preferences import AppPreferences, PreferenceStore
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import SIFT


def main_windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


def run_until_a_pair_is_shown(argv: list[str]) -> str:
    """``main(argv)`` on SIFT preferences; closes the window once a pair is drawn; its title."""
    PreferenceStore().save(AppPreferences(settings=SessionSettings(features=SIFT)))
    seen = {}

    def close_when_ready() -> None:
        windows = [w for w in main_windows() if w.isVisible()]
        if not windows or windows[0].canvas.source.view.image_size == (0, 0):
            QTimer.singleShot(50, close_when_ready)
            return
        seen["title"] = windows[0].windowTitle()
        windows[0].close()

    QTimer.singleShot(0, close_when_ready)
    assert app_module.main(argv) == 0
    return seen["title"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.jpg", str(DEMO_TARGET)], "'missing.jpg' does not exist"),
        ([str(DEMO_SOURCE)], "is one image; give a target image after it"),
        ([str(DEMO_SOURCE), str(DEMO_SOURCE.parent)], "is not an image; two paths are a source and a target"),
        ([str(DEMO_SOURCE), str(DEMO_TARGET), str(DEMO_TARGET)], "at most two paths"),
        (["--demo", str(DEMO_SOURCE), str(DEMO_TARGET)], "give --demo or paths to open, not both"),
        (["--model", "./no/such/model"], "--model: './no/such/model' is not a folder"),
        (["--prompts", "no-such-prompts.zip"], "--prompts: 'no-such-prompts.zip' does not exist"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_arguments_end_in_one_line_before_a_window_opens(qapp, capsys, arguments, message):
    before = len(main_windows())
    guard = QTimer(singleShot=True, interval=3000)  # a window that did open is closed: the test fails, not hangs
    guard.timeout.connect(lambda: [w.close() for w in main_windows()])
    guard.start()
    try:
        with pytest.raises(SystemExit) as stopped:
            app_module.main(arguments)
    finally:
        guard.stop()  # must not close a later test's windows
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("sd4match-gui: error: ") and message in error
    assert len(main_windows()) == before


def test_help_documents_what_the_app_opens(capsys):
    with pytest.raises(SystemExit):
        app_module.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "[SOURCE TARGET | SESSION.json | FOLDER | PAIR_LIST] [--model M] [--prompts P]" in text
    assert "--model M" in text and "--prompts P" in text


@pytest.mark.parametrize("given", ["--model", "--prompts"])
def test_a_model_or_prompts_that_are_not_what_they_claim_are_refused(qapp, capsys, tmp_path, given):
    """A folder of photos as the model, a photo as the prompt library: refused, and nothing remembered."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(DEMO_SOURCE, photos / "a.jpg")
    value = str(photos) if given == "--model" else str(photos / "a.jpg")
    with pytest.raises(SystemExit) as stopped:
        app_module.parse_args([given, value])  # what main() does first, before any window or preference
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"sd4match-gui: error: {given}: ")


def test_two_images_with_a_model_and_prompts(qtbot, tiny_sd_dir, tiny_prompts_dir):
    model, prompts = tiny_sd_dir, tiny_prompts_dir
    title = run_until_a_pair_is_shown(
        [str(DEMO_SOURCE), str(DEMO_TARGET), "--model", str(model), "--prompts", str(prompts)]
    )
    assert "astronaut.jpg" in title and "grace_hopper.jpg" in title
    remembered = PreferenceStore().load()  # as if chosen in Settings
    assert (remembered.sd, remembered.prompts) == (str(model), str(prompts))


def test_a_folder_or_a_session_given_on_the_command_line_opens(qtbot, tmp_path, make_app, sift_matcher):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DEMO_TARGET, folder / "b.jpg")
    shutil.copy(DEMO_SOURCE, folder / "a.jpg")
    assert "a.jpg" in run_until_a_pair_is_shown([str(folder)])

    first = make_app(sift_matcher, SIFT)
    session = tmp_path / "work.json"
    assert first.files.save_session(session)
    first.window.close()
    assert "grace_hopper.jpg" in run_until_a_pair_is_shown([str(session)])
