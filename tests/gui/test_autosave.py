"""Autosave: the writer thread survives any error, the window says what happened, and a save costs
what changed, not what the session holds."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil

import pytest

from engine.errors import DocumentError
from sd4match_gui.model.autosave import AutosaveWriter
from sd4match_gui.model.session_file import check_session_data, load_session, session_document
from sd4match_gui.model.session_text import SessionDocuments, SessionText
from sd4match_gui.views.pair_canvas import SOURCE
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click
from tests.gui.test_click_cost import MANY, with_points
from tests.gui.test_session_file_errors import small_session


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


def keypoint_counts(check):
    """A check that records how many keypoints it was given, then runs ``check``."""
    counts = []

    def counting(path, data):
        counts.append(sum(len(pair["keypoints"]) for pair in data["pairs"]))
        check(path, data)

    return counting, counts


def test_an_autosave_among_a_thousand_points_checks_only_the_changed_one(make_app, qtbot, sift_matcher, tmp_path):
    app = with_points(make_app, qtbot, sift_matcher, MANY)
    counting, counts = keypoint_counts(check_session_data)
    app.files.writer.close()
    app.files.writer = AutosaveWriter(check=counting)
    path = tmp_path / "work.json"
    assert app.files.save_session(path)
    assert counts == [MANY]

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    wait_idle(qtbot, app)
    app.files.autosave()  # the answer's lazy save, now
    assert app.files.writer.flush(timeout=5)
    assert counts[1:] and all(count <= 1 for count in counts[1:])  # the new point (and its answer) only

    def placed(points):
        return [(p.id, tuple(map(float, p.src_xy)), p.trg_xy, p.status) for p in points]

    assert placed(load_session(path).points()) == placed(app.session.points())


def test_reading_only_new_keypoints_refuses_what_reading_all_refuses(tmp_path):
    session = small_session(tmp_path)
    [point] = session.points("p1")
    session.set_points("p1", [dataclasses.replace(point, id=i, src_xy=(1.0 + i, 2.0)) for i in range(5)])
    path = tmp_path / "work.json"
    documents, text = SessionDocuments(), SessionText(check_session_data)
    valid = documents(session, path)
    assert json.loads(text(path, valid)) == valid
    keypoints = valid["pairs"][0]["keypoints"]
    broken_keypoints = {
        "NaN in a new point": [*keypoints, {**keypoints[0], "id": 9, "src_xy": [float("nan"), 1.0]}],
        "an id repeated by a new point": [*keypoints, {**keypoints[1], "src_xy": [3.0, 3.0]}],
        "a known point changed": [keypoints[0], {**keypoints[1], "status": "unsure"}, *keypoints[2:]],
    }
    for case, broken in broken_keypoints.items():
        data = {**valid, "pairs": [{**valid["pairs"][0], "keypoints": broken}]}
        with pytest.raises(DocumentError) as whole:
            check_session_data(path, data)
        with pytest.raises(DocumentError) as incremental:
            text(path, data)
        assert str(incremental.value) == str(whole.value), case  # the same field, at its real place
    again = documents(session, path)  # what passed stays known, whatever was refused meanwhile
    assert json.loads(text(path, again)) == again and text.keypoints_read == 0


def test_a_build_reuses_the_dicts_of_unchanged_points(tmp_path):
    session = small_session(tmp_path)
    [point] = session.points("p1")
    session.set_points("p1", [dataclasses.replace(point, id=i, src_xy=(1.0 + i, 2.0)) for i in range(4)])
    path = tmp_path / "work.json"
    documents = SessionDocuments()
    before = documents(session, path)["pairs"][0]["keypoints"]
    points = session.points("p1")
    session.set_points("p1", [*points[:2], dataclasses.replace(points[2], label="moved"), points[3]])
    data = documents(session, path)
    after = data["pairs"][0]["keypoints"]
    assert [a is b for a, b in zip(after, before, strict=True)] == [True, True, False, True]

    def undated(document):
        for keypoint in document["pairs"][0]["keypoints"]:
            keypoint.pop("updated_at")
        return document

    whole = session_document(session, path).to_dict(path.resolve().parent)
    assert undated(json.loads(json.dumps(data))) == undated(whole)


def test_a_build_after_a_point_edit_resolves_no_image_path_again(tmp_path, monkeypatch):
    """Pair dicts, relative paths and the file's folder are those of the previous build while the
    images stay: a save after a click resolves no path, not every image of every pair."""
    session = small_session(tmp_path)
    path = tmp_path / "work.json"
    documents = SessionDocuments()
    documents(session, path)
    [point] = session.points("p1")
    session.replace_point("p1", point.id, dataclasses.replace(point, label="moved"))
    resolved = []
    resolve = pathlib.Path.resolve
    monkeypatch.setattr(
        pathlib.Path, "resolve", lambda self, strict=False: (resolved.append(self), resolve(self, strict))[1]
    )

    data = documents(session, path)

    assert not resolved
    monkeypatch.undo()
    whole = session_document(session, path).to_dict(path.resolve().parent)
    assert json.loads(json.dumps(data)) == {**whole, "created_at": data["created_at"]}
