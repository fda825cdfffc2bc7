"""The app model without a window: every mutation emits its event once, with its payload, and
nothing when it changes nothing; the model imports no Qt."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from engine.export.document import Keypoint, Prediction
from engine.frames import GridFrame
from sd4match_gui.model import datasets
from sd4match_gui.model.app_model import AppModel
from sd4match_gui.model.pairs import GroundTruth, PairEntry
from sd4match_gui.model.preferences import AppPreferences
from sd4match_gui.model.results import Heatmap, VariantState
from sd4match_gui.model.session import Session
from tests.conftest import DEMO_SOURCE, DEMO_TARGET, REPO

EVENTS = (
    "session_replaced",
    "edited",
    "settings_changed",
    "images_changed",
    "preferences_changed",
    "engine_changed",
    "job_changed",
    "path_changed",
)
RESULT_EVENTS = ("answered", "states_changed", "error", "errors_cleared", "weights_changed")
FRAME = GridFrame(512, 600, 256, 32, 32)


class Recorder:
    """Every event of a model and of its results part, as (name, payload) in emission order."""

    def __init__(self, model: AppModel) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        for name in EVENTS:
            getattr(model, name).connect(lambda *args, name=name: self.calls.append((name, args)))
        for name in RESULT_EVENTS:
            getattr(model.results, name).connect(lambda *args, name=name: self.calls.append((name, args)))

    def take(self) -> list[tuple[str, tuple[object, ...]]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def model() -> AppModel:
    model = AppModel(AppPreferences())
    session = Session(model.session.settings)
    session.set_pairs(datasets.pairs_from_images(DEMO_SOURCE, DEMO_TARGET) + _second_pair())
    model.set_session(session)
    return model


def _second_pair():
    return [dataclasses.replace(datasets.pairs_from_images(DEMO_TARGET, DEMO_SOURCE)[0], pair_id="second")]


def test_the_model_and_its_preferences_import_no_qt() -> None:
    """A model built with its preferences value, in a fresh interpreter, loads no Qt (the
    ``QSettings`` store of the preferences is outside the model)."""
    code = (
        "import sys\n"
        "from sd4match_gui.model.app_model import AppModel\n"
        "from sd4match_gui.model.preferences import AppPreferences\n"
        "model = AppModel(AppPreferences(device='cpu'))\n"
        "assert model.preferences.engine_config().device == 'cpu'\n"
        "sys.exit('PySide6' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_point_edits_emit_edited_with_their_description(model: AppModel) -> None:
    events = Recorder(model)
    model.edit("add point 1", Keypoint(0, (10.0, 20.0)))
    model.edit("add point 2", Keypoint(1, (30.0, 40.0)))
    assert events.take() == [("edited", ("add point 1",)), ("edited", ("add point 2",))]
    model.select(0)
    model.select(0)  # already selected: no change, no event
    model.select(7)  # no such point
    assert events.take() == [("edited", ("select point 1",))]
    model.move_point(0, (11.0, 21.0))
    model.move_point(9, (1.0, 1.0))  # no such point
    assert events.take() == [("edited", ("move source point",))]
    assert model.set_status(1, "accepted") is False  # nothing predicted it yet: nothing to accept
    model.edit("correct point 2", model.session.point(1).corrected((5.0, 5.0)))
    assert model.set_status(1, "rejected") is True
    assert events.take() == [("edited", ("correct point 2",)), ("edited", ("mark point rejected",))]
    assert model.undo() is not None and model.redo() is not None
    assert events.take() == [("edited", ("undo mark point rejected",)), ("edited", ("redo mark point rejected",))]


def test_undo_with_nothing_to_undo_and_a_missing_pair_emit_nothing(model: AppModel) -> None:
    events = Recorder(model)
    assert model.undo() is None and model.redo() is None
    assert model.go_to(5) is False and model.go_to(0) is False  # no such pair; the open one
    assert model.go_to(1) is True and model.session.pair.pair_id == "second"
    assert events.take() == [("edited", ("open pair 2",))]


def test_settings_preferences_images_jobs_and_sessions_say_what_changed(model: AppModel) -> None:
    events = Recorder(model)
    old = model.session.settings
    model.change_settings(display=dataclasses.replace(old.display, opacity=0.25))
    model.set_settings(model.session.settings)  # the same: nothing
    [(name, (before, after))] = events.take()
    assert name == "settings_changed" and before is old and after.display.opacity == 0.25
    assert model.session.settings is after

    preferences = model.preferences
    model.set_preferences(preferences.replace(device="cpu"))
    model.set_preferences(model.preferences)
    [(name, (before, after))] = events.take()
    assert name == "preferences_changed" and before is preferences and after.device == "cpu"

    model.set_images(None)
    model.set_job("tuning")
    model.set_job("tuning")
    model.set_job(None)
    model.note_engine_change()
    assert events.take() == [
        ("images_changed", (None,)),
        ("job_changed", ("tuning",)),
        ("job_changed", (None,)),
        ("engine_changed", ()),
    ]

    model.results.heatmaps["current"] = Heatmap("p", 0, np.zeros((2, 2), np.float32), FRAME)
    other = Session()
    model.set_session(other)
    assert events.take() == [("session_replaced", (other,))]
    assert model.session is other and model.results.heatmaps == {}  # no point of it has a map yet


def test_an_answer_stores_rounded_predictions_and_emits_answered(model: AppModel) -> None:
    model.edit("add point 1", Keypoint(0, (10.0, 20.0)))
    model.edit("add point 2", Keypoint(1, (30.0, 40.0)))
    model.edit("correct point 2", model.session.point(1).corrected((5.0, 5.0)))
    pair_id = model.session.pair.pair_id
    events = Recorder(model)
    heatmap = Heatmap(pair_id, 1, np.zeros((2, 2), np.float32), FRAME)
    xy, confidence = np.array([[100.0, 200.0], [300.0, 400.0]]), np.array([0.123456789, 0.5])
    run = model.apply_answer("current", {"backend": "sift"}, pair_id, (0, 1), xy, confidence, True, heatmap)
    assert events.take() == [("answered", ("current",))]
    first, second = model.session.point(0), model.session.point(1)
    assert first.prediction(run) == Prediction(run, (100.0, 200.0), 0.123457)  # as files store it
    assert first.trg_xy == (100.0, 200.0)  # predicted: the primary prediction is its target
    assert second.trg_xy == (5.0, 5.0) and second.prediction(run).xy == (300.0, 400.0)  # corrected stays
    assert model.results.variant_runs == {"current": run} and model.results.states["current"].text == "done"
    assert model.results.heatmap_for("current", pair_id, 1) is heatmap
    assert model.results.heatmap_for("current", pair_id, 0) is None

    # Asked again, a run's first prediction stands and the point stays the very same object.
    model.apply_answer("current", {"backend": "sift"}, pair_id, (0,), xy + 0.001, confidence, True, None)
    assert model.session.point(0) is first


def test_states_errors_and_weights_emit_only_on_change(model: AppModel) -> None:
    results, events = model.results, Recorder(model)
    results.ask({"a": "context 1", "b": "context 1"}, {"a": VariantState("waiting"), "b": VariantState("waiting")})
    results.set_states({"a": VariantState("waiting")})  # unchanged
    assert events.take() == [("states_changed", (("a", "b"),))]

    failed = VariantState("failed", failed=True)
    results.fail({"b": failed}, "b", "b: out of memory")
    assert events.take() == [("states_changed", (("b",),)), ("error", ("b: out of memory",))]
    results.answer("a", "r1", None)  # another variant: b's error stands
    assert events.take() == [("answered", ("a",))]
    results.answer("b", "r2", None)
    assert events.take() == [("answered", ("b",)), ("errors_cleared", ())]
    results.forget_errors()  # none on screen
    results.fail({"a": VariantState("cancelled", failed=True)}, "", "")  # a cancel: no message
    assert events.take() == [("states_changed", (("a",),))]

    results.set_sd_missing("no weights")
    results.set_sd_missing("no weights")
    results.set_sd_missing(None)
    assert events.take() == [("weights_changed", ("no weights",)), ("weights_changed", (None,))]


def test_results_drawn_for_another_context_are_stale(model: AppModel) -> None:
    results = model.results
    results.ask({"a": "context 1"}, {})
    assert not results.is_stale("a")  # nothing drawn yet
    results.answer("a", "r1", None)
    assert not results.is_stale("a")
    results.ask({"a": "context 2"}, {})  # e.g. another timestep: a recompute is running
    assert results.is_stale("a") and results.answered_for("a") == "context 1"


def test_partial_answers_are_drawn_over_the_points_never_stored_in_them(model: AppModel) -> None:
    """A progressive ensemble's running means live in the results until the final answer: the
    session (what is saved, exported and undone) only ever holds final predictions."""
    model.edit("add point 1", Keypoint(0, (10.0, 20.0)))
    model.edit("add point 2", Keypoint(1, (30.0, 40.0)))
    pair_id, stored = model.session.pair.pair_id, model.session.points()
    events = Recorder(model)
    xy, confidence = np.array([[100.0, 200.0], [300.0, 400.0]]), np.array([0.25, 0.5])
    run = model.apply_answer("current", {"backend": "sd"}, pair_id, (0, 1), xy, confidence, True, None, ensemble=(2, 8))
    assert events.take() == [("answered", ("current",))]
    assert model.session.points() == stored and model.session.point(0).predictions == ()  # nothing stored
    assert model.results.partial == {"current"} and model.results.states.get("current") is None  # still working
    drawn = model.results.shown(pair_id, model.session.points())
    assert [p.trg_xy for p in drawn] == [(100.0, 200.0), (300.0, 400.0)]
    assert drawn[0].prediction(run) == Prediction(run, (100.0, 200.0), 0.25)
    assert model.results.shown(pair_id, model.session.points())[0] is drawn[0]  # unchanged: the same drawn object
    assert model.results.shown("another pair", stored) == stored
    moved = stored[1].moved_source((31.0, 41.0))  # asked for the old source: not drawn over the moved point
    assert model.results.shown(pair_id, [stored[0], moved])[1] is moved

    model.apply_answer("current", {"backend": "sd"}, pair_id, (0, 1), xy + 1.0, confidence, True, None)
    assert model.results.partial == set() and model.results.states["current"].text == "done"
    final = model.session.point(0)
    assert final.prediction(run).xy == (101.0, 201.0) and final.trg_xy == (101.0, 201.0)  # the final one, stored
    assert model.results.shown(pair_id, model.session.points())[0] is final  # nothing laid over any more


def test_a_dataset_pair_opens_with_its_ground_truth_points_in_the_event_that_opened_it(model: AppModel) -> None:
    """Ground truth is the pair's starting content: filled as the pair opens (set_session, go_to),
    announced by that one event, and not an undo step."""
    truth = (GroundTruth((1.0, 2.0), (30.0, 40.0), "3"), GroundTruth((5.0, 6.0), (70.0, 80.0), "7"))
    pairs = [PairEntry(f"p{i}", DEMO_SOURCE, DEMO_TARGET, ground_truth=truth) for i in range(2)]
    session = Session(model.session.settings)
    session.set_pairs(pairs)
    events = Recorder(model)
    model.set_session(session)
    assert events.take() == [("session_replaced", (session,))]
    assert [(p.src_xy, p.label, p.trg_xy) for p in session.points("p0")] == [
        ((1.0, 2.0), "3", None),
        ((5.0, 6.0), "7", None),
    ]
    assert session.points("p1") == []  # not opened yet
    assert model.go_to(1)
    assert events.take() == [("edited", ("open pair 2",))]
    assert [p.label for p in session.points("p1")] == ["3", "7"]
    assert session.history.undo_text is None  # nothing to undo: the benchmark's points stay


def test_saving_under_a_new_name_emits_path_changed(model: AppModel, tmp_path) -> None:
    events = Recorder(model)
    model.set_path(tmp_path / "a.json")
    model.set_path(tmp_path / "a.json")  # the same file: nothing
    assert events.take() == [("path_changed", (tmp_path / "a.json",))]
    assert model.session.path == tmp_path / "a.json"
