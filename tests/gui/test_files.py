"""Sessions, exports, imports and autosave through the real window (and a killed process)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap

from engine import LocalisationSettings
from engine.export.document import CorrespondenceDocument
from sd4match_gui.model.autosave import latest_recovery
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import REPO
from tests.gui.conftest import SIFT, wait_idle, wait_loaded
from tests.gui.helpers import click

TARGET = 0


def annotate(app, qtbot) -> None:
    """Three points: one corrected, one occluded, one accepted; predicted under two localisations."""
    canvas = app.window.canvas
    for xy in ((120.0, 150.0), (260.0, 210.0), (380.0, 330.0)):
        click(canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    settings = app.session.settings
    app.settings.set_engine(settings.prompt, settings.features, LocalisationSettings("softargmax"))
    wait_idle(qtbot, app)
    app.annotation.select(0)
    click(canvas, TARGET, (200.0, 220.0))
    app.annotation.select(1)
    app.annotation.set_visibility(1)
    app.annotation.select(2)
    app.annotation.set_status("accepted")
    wait_idle(qtbot, app)


def comparable(points):
    """Points with confidences at the 6 decimals files keep."""
    return [
        dataclasses.replace(
            p, predictions=tuple(dataclasses.replace(r, confidence=round(r.confidence, 6)) for r in p.predictions)
        )
        for p in points
    ]


def test_session_save_and_reopen(make_app, qtbot, sift_matcher, tmp_path):
    first = make_app(sift_matcher, SIFT)
    annotate(first, qtbot)
    path = tmp_path / "sessions" / "demo.json"
    assert first.files.save_session(path)
    saved_points, saved_settings = first.session.points(), first.session.settings
    first.window.close()

    data = json.loads(path.read_text())
    assert data["session"]["pairs"][0]["source"].startswith("../")  # relative to the session file

    second = make_app(sift_matcher, SIFT, demo=False)
    second.files.open_session(path)
    wait_loaded(qtbot, second)
    assert comparable(second.session.points()) == comparable(saved_points)
    assert second.session.settings == saved_settings
    assert second.window.engine_panel.localisation.currentText() == "softargmax"
    assert second.current_images is not None and second.window.canvas.source.view.image_size == (512, 512)
    assert [m.style for m in second.window.canvas.targets[0].view.markers.markers] == [
        "corrected",
        "predicted",
        "accepted",
    ]


def test_spair_keypoint_ids_survive_an_spair_export(make_app, qtbot, sift_matcher, spair_root, tmp_path):
    app = make_app(sift_matcher, SIFT, demo=False)
    assert app.files.open_path(spair_root)
    wait_loaded(qtbot, app)
    assert [p.label for p in app.session.points()] == ["3", "7", "12"]
    [written] = app.files.export(tmp_path / "spair.json", "spair")
    assert json.loads(written.read_text())["kps_ids"] == [3, 7, 12]


def test_export_then_import(make_app, qtbot, sift_matcher, tmp_path):
    first = make_app(sift_matcher, SIFT)
    annotate(first, qtbot)
    path = tmp_path / "out" / "export.json"
    assert first.files.export(path) == [path]
    document = CorrespondenceDocument.load(path)
    [pair] = document.pairs
    runs = {run.run_id: run.details for run in document.runs}
    # Every prediction the user ran is kept, with the exact settings of its run.
    assert {p.run_id for k in pair.keypoints for p in k.predictions} == set(runs) and len(runs) == 2
    assert {details["matching"]["localisation"] for details in runs.values()} == {"kernel_softargmax", "softargmax"}
    assert all(details["backend"] == "sift" for details in runs.values())
    assert "session" not in json.loads(path.read_text())
    for fmt, name in (("spair", "spair.json"), ("pfpascal", "pairs.csv"), ("coco", "coco.json"), ("labelme", "lm")):
        written = first.files.export(tmp_path / "out" / name, fmt)
        assert written and all(p.stat().st_size > 0 for p in written)

    second = make_app(sift_matcher, SIFT, demo=False)
    assert second.files.import_json(path)
    imported = second.session.points()  # as read: answers to the new request are applied by the event loop
    original = first.session.points()
    assert [(p.src_xy, p.trg_xy, p.status, p.visibility) for p in imported] == [
        (p.src_xy, p.trg_xy, p.status, p.visibility) for p in original
    ]

    def predictions(session, point):
        return {(session.runs.details(r.run_id)["matching"]["localisation"], r.xy) for r in point.predictions}

    for before, after in zip(original, imported, strict=True):
        assert predictions(second.session, after) == predictions(first.session, before)
    wait_idle(qtbot, second)  # this window predicts with its own (kernel) setting: r1's numbers again
    kernel_run = next(r for r, d in first.session.runs.items() if d["matching"]["localisation"] == "kernel_softargmax")
    assert second.session.point(1).trg_xy == first.session.point(1).prediction(kernel_run).xy


def test_a_broken_file_is_a_message_not_a_crash(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    app.files.open_session(bad)
    wait_loaded(qtbot, app)
    assert "not an sd-correspondence file" in app.window.message_banner.text
    assert app.session.pair is not None  # the open session is untouched


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from engine import FeatureSettings, Matcher, PromptSpec
    from sd4match_gui.app import build
    from sd4match_gui.preferences import PreferenceStore

    app = QApplication([])
    folder = Path(sys.argv[1])
    store = PreferenceStore(QSettings(str(folder / "prefs.ini"), QSettings.Format.IniFormat))
    controller = build(store, lambda _config: Matcher())
    controller.settings.set_engine(PromptSpec(), FeatureSettings(backend="sift", size=256))
    controller.open_demo()
    if sys.argv[2] == "titled":
        controller.files.save_session(folder / "work.json")
    for index in range(5):
        controller.annotation.click(-1, 50.0 + 40 * index, 60.0 + 30 * index)
        controller.files.writer.flush()
        print("saved", index + 1, flush=True)
    controller.annotation.click(-1, 400.0, 420.0)  # the last action: may or may not reach the disk
    print("ready", flush=True)
    app.exec()
    """
)


def run_and_kill(tmp_path, mode: str) -> None:
    environment = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline().strip() for _ in range(6)]
        assert lines[-1] == "ready", lines
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_autosave_survives_a_killed_process(make_app, qtbot, sift_matcher, tmp_path):
    run_and_kill(tmp_path, "titled")
    app = make_app(sift_matcher, SIFT, demo=False)
    app.files.open_session(tmp_path / "work.json")
    wait_loaded(qtbot, app)
    points = app.session.points()
    assert len(points) in (5, 6)  # at most the last action is lost
    assert points[4].src_xy == (210.0, 180.0)
    # A write interrupted by the kill can leave a stray temp file, never a half-written session.


def test_an_untitled_session_is_offered_back_after_a_crash(make_app, qtbot, sift_matcher, tmp_path):
    run_and_kill(tmp_path, "untitled")
    recovered = latest_recovery()
    assert recovered is not None
    app = make_app(sift_matcher, SIFT, demo=False)
    app.offer_start()
    banner = app.window.message_banner
    assert "Unsaved work" in banner.text and banner.action.text() == "Reopen"
    banner.action.click()
    wait_loaded(qtbot, app)
    assert len(app.session.points()) >= 5 and app.session.path is None
    assert app.files.recovery_path == recovered  # it keeps autosaving there
