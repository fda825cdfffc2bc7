"""Malformed session files fail to open with one error naming the field; the app never writes one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.errors import DocumentError
from engine.export.document import ImageRef, Keypoint, Prediction
from sd4match_gui.model.pairs import GroundTruth, PairEntry
from sd4match_gui.model.session import Session
from sd4match_gui.model.session_file import load_session, save_session, session_data
from sd4match_gui.model.settings import CompareSettings, SessionSettings, TunedPrompt
from tests.engine.test_validation import HUGE_INTEGERS, WRONG_VALUES, nodes, numeric_nodes, replaced, with_huge_integer
from tests.gui.conftest import SIFT, wait_idle, wait_loaded


def small_session(folder: Path, xy: tuple[float, float] = (2.0, 2.0)) -> Session:
    """One pair with a ground-truth point, one point with a prediction, and non-default settings."""
    session = Session()
    source, target = folder / "a.png", folder / "b.png"
    session.set_pairs([PairEntry("p1", source, target, "cat", (0, 0, 5, 5), None, (GroundTruth((1, 1), (2, 2), "n"),))])
    session.images[source], session.images[target] = ImageRef(source, 10, 10), ImageRef(target, 10, 10)
    run = session.runs.register({"matching": {"sigma": 7.0}})
    prediction = Prediction(run, xy, 0.5)
    session.set_points("p1", [Keypoint(id=0, src_xy=(1.0, 1.0), trg_xy=(2.0, 2.0), predictions=(prediction,))])
    compare = CompareSettings(disabled=("text",), tuned=(TunedPrompt("single", "toy"),))
    session.settings = dataclasses.replace(SessionSettings(), compare=compare)
    session.selected = 0
    return session


def test_every_malformed_session_field_is_a_document_error(tmp_path):
    """Each node of the "session" part replaced by each wrong JSON type: DocumentError, or a
    session that also saves again (the app autosaves at once), never another exception."""
    path = tmp_path / "session.json"
    save_session(small_session(tmp_path), path)
    valid = json.loads(path.read_text())
    broken = tmp_path / "broken.json"
    for node in nodes(valid["session"], ("session",)):
        for value in WRONG_VALUES:
            broken.write_text(json.dumps(replaced(valid, node, value)))
            try:
                save_session(load_session(broken), tmp_path / "again.json")
            except DocumentError as exc:
                assert "\n" not in str(exc)
            except Exception as exc:  # any other type is the failure this test looks for
                pytest.fail(f"{node} = {value!r} raised {type(exc).__name__}: {exc}")


def test_huge_integers_in_a_session_are_a_document_error(tmp_path):
    path = tmp_path / "session.json"
    save_session(small_session(tmp_path), path)
    valid = json.loads(path.read_text())
    broken = tmp_path / "broken.json"
    for node in numeric_nodes(valid):
        for digits in HUGE_INTEGERS:
            broken.write_text(with_huge_integer(valid, node, digits))
            try:
                save_session(load_session(broken), tmp_path / "again.json")
            except DocumentError as exc:
                assert "\n" not in str(exc)
            except Exception as exc:  # any other type is the failure this test looks for
                pytest.fail(f"{node} = {len(digits)} digits raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    ("node", "value", "field"),
    [(("session", "settings", "display", "opacity"), "0.5", "session.settings.display.opacity"),
     (("session", "settings", "display"), "x", "session.settings.display"),
     (("session", "settings", "localisation", "sigma"), "7", "sigma"),
     (("session", "settings", "localisation", "temperature"), 1e-300, "temperature"),
     (("session", "settings", "features", "layer"), "1", "layer"),
     (("session", "settings", "compare", "tuned", 0), "single/toy", "session.settings.compare.tuned[0]"),
     (("session", "pairs", 0, "source_bbox"), "x", "session.pairs[0].source_bbox"),
     (("session", "selected"), [0], "session.selected"),
     (("pairs", 0, "category"), 7, "pairs[0].category")],
)  # fmt: skip
def test_malformed_fields_are_named(tmp_path, node, value, field):
    path = tmp_path / "session.json"
    save_session(small_session(tmp_path), path)
    path.write_text(json.dumps(replaced(json.loads(path.read_text()), node, value)))
    with pytest.raises(DocumentError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_session(path)


def test_the_session_writer_refuses_what_the_reader_would_refuse(tmp_path):
    path = tmp_path / "session.json"
    save_session(small_session(tmp_path), path)
    good = path.read_text()
    broken = small_session(tmp_path, xy=(float("nan"), 2.0))
    for write in (lambda: save_session(broken, path), lambda: session_data(broken, path)):
        with pytest.raises(DocumentError, match=r"would not open again: .*predictions\[0\]\.xy\[0\] is nan"):
            write()
    assert path.read_text() == good
    load_session(path)


def test_the_app_reports_a_malformed_session_instead_of_failing_in_a_slot(make_app, qtbot, sift_matcher, tmp_path):
    path = tmp_path / "session.json"
    save_session(small_session(tmp_path), path)
    path.write_text(json.dumps(replaced(json.loads(path.read_text()), ("session", "settings", "display"), "x")))
    app = make_app(sift_matcher, SIFT)
    app.files.open_session(path)
    wait_loaded(qtbot, app)
    assert "session.settings.display must be an object" in app.window.message_banner.text
    assert len(app.session.pairs) == 1 and app.session.path is None  # the demo session stays open


def test_autosave_never_writes_a_file_the_app_cannot_open(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher, SIFT)
    path = tmp_path / "demo.json"
    assert app.files.save_session(path)
    good = path.read_text()
    pair_id = app.session.pair.pair_id
    nan = Prediction("r1", (float("nan"), 1.0), 0.5)
    app.session.set_points(pair_id, [Keypoint(id=0, src_xy=(5.0, 5.0), trg_xy=None, predictions=(nan,))])
    app.files.autosave()
    assert app.files.writer.flush()
    assert "would not open again" in (app.files.writer.last_error or "")
    assert path.read_text() == good
    load_session(path)
    assert not app.files.save_session(path)  # an explicit save says so too
    assert "would not open again" in app.window.message_banner.text
    wait_idle(qtbot, app)


def test_malformed_settings_in_the_preferences_fall_back_to_defaults(store):
    for stored in ('"x"', '{"display": {"opacity": "0.5"}}', '{"localisation": {"sigma": 1e-300}}', "[" * 100_000):
        store.qsettings.setValue("session/settings", stored)
        assert store.load().settings == SessionSettings()
