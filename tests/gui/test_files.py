"""Sessions, exports, imports and autosave through the real window (and a killed process)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from engine import LocalisationSettings, PromptSpec, load_image
from engine.export.document import CorrespondenceDocument
from engine.export.heatmaps import read_heatmap
from sd4match_gui.controller.tuning import EXPORT_RUNNING
from sd4match_gui.model.autosave import recovery_files
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, REPO
from tests.gui.conftest import SIFT, wait_idle, wait_loaded, with_features
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


def two_annotated_pairs(app, qtbot, folder) -> None:
    """Pairs a-b and b-c of a folder (three different images): two points on the first, one on the second."""
    folder.mkdir()
    shutil.copy(DEMO_SOURCE, folder / "a.jpg")
    shutil.copy(DEMO_TARGET, folder / "b.jpg")
    with Image.open(DEMO_SOURCE) as image:  # features are cached by pixels: c must differ from a
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "c.jpg")
    assert app.files.open_path(folder)
    wait_loaded(qtbot, app)
    for xy in ((120.0, 150.0), (260.0, 210.0)):
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    app.go_to_pair(1)
    click(app.window.canvas, SOURCE, (200.0, 300.0))
    wait_idle(qtbot, app)


def test_export_with_heatmaps_maps_every_point_of_every_pair(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT, demo=False)
    two_annotated_pairs(app, qtbot, tmp_path / "images")
    app.settings.set_variants("sift,sift@size=384")
    app.settings.set_compare_mode(True)
    wait_idle(qtbot, app)
    path = tmp_path / "out" / "export.json"
    with qtbot.waitSignal(app.heatmap_export.finished, timeout=60000) as done:
        assert app.files.export(path, "json+heatmaps") == []  # File > Export's way in; written when done
    written = done.args[0]
    assert written[0] == path and len(written) == 1 + 3 * 2  # the JSON, then 3 points x 2 variants
    document = CorrespondenceDocument.load(path)
    assert [len(record.keypoints) for record in document.pairs] == [2, 1]
    runs = {run.run_id: run.details for run in document.runs}
    for record in document.pairs:
        for keypoint in record.keypoints:
            mapped = [p for p in keypoint.predictions if p.heatmap is not None]
            assert sorted(runs[p.run_id]["features"]["size"] for p in mapped) == [SIFT.size, 384]
            for prediction in mapped:
                size = runs[prediction.run_id]["features"]["size"]
                assert read_heatmap(path, prediction.heatmap).shape == (size // 16, size // 16)
    # The maps and predictions are the engine's own for those points.
    record, keypoint = document.pairs[1], document.pairs[1].keypoints[0]
    prediction = next(p for p in keypoint.predictions if p.heatmap and runs[p.run_id]["features"]["size"] == SIFT.size)
    engine_pair = sift_matcher.prepare(
        load_image(record.source.path), load_image(record.target.path), PromptSpec(), SIFT
    )
    point = np.array([keypoint.src_xy])
    assert prediction.xy == pytest.approx(
        tuple(engine_pair.match(point, app.session.settings.localisation).match_xy[0])
    )
    np.testing.assert_allclose(read_heatmap(path, prediction.heatmap), engine_pair.score_maps(point)[0], atol=1e-6)


def hold_an_export(app, qtbot, gated, path) -> int:
    """Start an export whose last step (pair b-c, image c at 512 px) waits at the closed gate;
    returns the feature-cache misses so far."""
    app.prefetch.ahead = 0  # no prefetch: it would compute image c in idle time before the export
    two_annotated_pairs(app, qtbot, path.parent / "images")
    app.go_to_pair(-1)
    with_features(app, size=512)  # pair a-b at 512 px is computed now; image c is not
    wait_idle(qtbot, app)
    gated.gate.clear()
    misses = gated.matcher.features.stats.misses
    assert app.heatmap_export.start(path)
    qtbot.waitUntil(lambda: app.heatmap_export.dialog.labelText().startswith("2/2 "), timeout=10000)
    return misses


def test_export_with_heatmaps_cancelled_in_its_last_step_writes_nothing(make_app, qtbot, tmp_path, gated_matcher):
    app = make_app(gated_matcher.matcher, SIFT, demo=False)
    path = tmp_path / "export.json"
    with qtbot.waitSignal(app.heatmap_export.finished, timeout=30000) as done:
        misses = hold_an_export(app, qtbot, gated_matcher, path)
        app.heatmap_export.dialog.findChild(QPushButton).click()  # the dialog's Cancel
        assert app.heatmap_export.dialog is None and app.heatmap_export.running  # it stops at its next stage
        gated_matcher.gate.set()
    assert done.args[0] == [] and not path.exists() and not list(tmp_path.glob("export_heatmaps*"))
    assert gated_matcher.matcher.features.stats.misses > misses  # the last step did extract (and waited)
    assert "cancelled" in app.window.statusBar().currentMessage() and not app.heatmap_export.running


def test_an_export_and_a_tuning_run_never_share_the_engine(make_app, qtbot, tmp_path, gated_matcher):
    app = make_app(gated_matcher.matcher, SIFT, demo=False)
    path = tmp_path / "export.json"
    with qtbot.waitSignal(app.heatmap_export.finished, timeout=30000) as done:
        hold_an_export(app, qtbot, gated_matcher, path)
        app.annotation.select(app.session.points()[0].id)
        app.annotation.set_status("accepted")  # data to tune on
        app.tuning.open_dialog()
        app.tuning.start()
        assert app.tuning.dialog.message.text() == EXPORT_RUNNING and not app.tuning.running
        assert not app.heatmap_export.start(tmp_path / "second.json")  # one export at a time
        gated_matcher.gate.set()
    assert done.args[0][0] == path and path.exists()


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
    [kept] = recovery_files()
    recovered = kept.path
    app = make_app(sift_matcher, SIFT, demo=False)
    app.offer_start()
    banner = app.window.message_banner
    assert "Unsaved work was kept" in banner.text and "astronaut-grace_hopper" in banner.text
    assert banner.action.text() == "Recover…"
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.files.recovery_dialog is not None and app.files.recovery_dialog.isVisible())
    qtbot.mouseClick(app.files.recovery_dialog.reopen_button, Qt.MouseButton.LeftButton)
    wait_loaded(qtbot, app)
    assert len(app.session.points()) >= 5 and app.session.path is None
    assert app.files.recovery_path == recovered  # it keeps autosaving there
