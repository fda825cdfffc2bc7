"""The Qt-free parts of collection mode: names, per-image state, review order, the file part."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.collections.review import Candidate, ReviewThresholds
from engine.collections.schema import COCO_PERSON, numbered_schema
from engine.collections.template import TemplatePoint
from engine.errors import DocumentError
from engine.export.document import Keypoint, Prediction
from sd4match_gui.model.app_model import AppModel
from sd4match_gui.model.collection import (
    FAILED,
    MAX_TEMPLATES,
    NEEDS_REVIEW,
    PREDICTING,
    REVIEWED,
    Collection,
    CollectionImage,
    PointFacts,
    accept_passing,
    clear_points,
)
from sd4match_gui.model.collection_file import collection_from_dict, collection_to_dict
from sd4match_gui.model.history import PointsEdit
from sd4match_gui.model.labels import Labelling
from sd4match_gui.model.pairs import PairEntry
from sd4match_gui.model.session import Session
from sd4match_gui.model.session_file import load_session, save_session
from sd4match_gui.preferences import AppPreferences
from tests.conftest import REPO


def test_labelling_advances_past_placed_and_hidden_names_and_wraps():
    labelling = Labelling(numbered_schema(4))
    changes = []
    labelling.changed.connect(lambda: changes.append(labelling.active))
    assert labelling.active == "1"
    labelling.advance(placed={"1"}, hidden={"2"})
    assert labelling.active == "3"
    labelling.choose_number(4)
    labelling.advance(placed={"1", "4"}, hidden={"2"})
    assert labelling.active == "3"  # wrapped round
    labelling.advance(placed={"1", "3", "4"}, hidden={"2"})
    assert labelling.active is None
    assert changes == ["3", "4", "3", None]
    assert not labelling.choose_number(5)
    with pytest.raises(ValueError, match="not a keypoint"):
        labelling.choose("nose")
    assert labelling.free(placed={"1"}, hidden=set()) == ["2", "3", "4"]


def make_collection(count: int = 3) -> tuple[Collection, dict[str, list[Keypoint]]]:
    images = [CollectionImage(f"p{i}", Path(f"/photos/{i}.jpg")) for i in range(count)]
    collection = Collection(COCO_PERSON, Path("/photos/template.jpg"), images)
    collection.template = {0: TemplatePoint(0, "nose", (10.0, 20.0)), 1: TemplatePoint(1, "left_eye", (30.0, 5.0))}
    points = {image.pair_id: collection.template_copies() for image in images}
    return collection, points


def predicted(point: Keypoint, xy: tuple[float, float], confidence: float) -> Keypoint:
    return point.with_prediction(Prediction("r1", xy, confidence), primary=True)


def propagate(collection, points, pair_id, confidences, cycle=(1.0, 1.0)):
    points[pair_id] = [predicted(p, (5.0, 5.0), c) for p, c in zip(points[pair_id], confidences, strict=True)]
    facts = {i: PointFacts(c, e, 100, "template.jpg") for i, c, e in zip((0, 1), confidences, cycle, strict=True)}
    collection.record(pair_id, facts, {i: p.xy for i, p in collection.template.items()})


def test_image_states_counts_and_flags():
    collection, points = make_collection()
    events = []
    collection.changed.connect(events.append)
    assert collection.summary(collection.images[0], points["p0"]).state == PREDICTING
    propagate(collection, points, "p0", (0.9, 0.01))  # the second: confidence below 0.05
    propagate(collection, points, "p1", (0.9, 0.9), cycle=(1.0, 50.0))  # the second: cycle error 50 % of 100 px
    collection.fail("p2", "2.jpg: cannot read")
    assert events == ["p0", "p1", "p2"]
    summary = collection.summary(collection.images[0], points["p0"])
    assert (summary.state, summary.points, summary.approved, summary.flagged) == (NEEDS_REVIEW, 2, 0, 1)
    assert summary.least_confidence == pytest.approx(0.01)
    assert collection.summary(collection.images[1], points["p1"]).flagged == 1
    assert collection.summary(collection.images[2], points["p2"]).state == FAILED
    assert collection.missing(collection.images[2]) == []  # a failed image is not retried by itself
    collection.set_thresholds(ReviewThresholds(max_cycle_error=0.6, min_confidence=0.0))
    assert events[-1] is None
    assert collection.summary(collection.images[1], points["p1"]).flagged == 0

    edits = accept_passing(collection, "p0", points["p0"])
    assert [e.after.status for e in edits] == ["accepted", "accepted"]
    session = Session()
    session.set_points("p0", points["p0"])
    session.history.do(session, PointsEdit("accept", "p0", tuple(edits)))
    assert collection.summary(collection.images[0], session.points("p0")).state == REVIEWED
    session.undo()
    assert [p.status for p in session.points("p0")] == ["predicted", "predicted"]


def test_review_order_puts_the_least_confident_first_and_the_done_last():
    collection, points = make_collection(4)
    propagate(collection, points, "p0", (0.9, 0.8))
    propagate(collection, points, "p1", (0.3, 0.8))
    propagate(collection, points, "p2", (0.6, 0.7))
    propagate(collection, points, "p3", (0.1, 0.2))
    points["p3"] = [dataclasses.replace(p, status="accepted") for p in points["p3"]]
    summaries = {i.pair_id: collection.summary(i, points[i.pair_id]) for i in collection.images}
    assert collection.review_order(summaries, least_confident_first=False) == ["p0", "p1", "p2", "p3"]
    assert collection.review_order(summaries, least_confident_first=True) == ["p1", "p2", "p0", "p3"]


def test_reviewed_images_join_the_templates_up_to_the_limit():
    collection, points = make_collection(MAX_TEMPLATES + 2)
    for image in collection.images:
        propagate(collection, points, image.pair_id, (0.9, 0.9))
    points["p0"] = [dataclasses.replace(p, status="corrected", trg_xy=(7.0, 8.0)) for p in points["p0"]]
    points["p1"][0] = dataclasses.replace(points["p1"][0], status="accepted")  # half reviewed: not a template
    templates = collection.templates_for(points)
    assert [t[0] for t in templates] == ["template.jpg", "0.jpg"]
    assert templates[1][2] == {0: (7.0, 8.0), 1: (7.0, 8.0)}
    for pair_id in list(points)[1:]:
        points[pair_id] = [dataclasses.replace(p, status="accepted") for p in points[pair_id]]
    assert len(collection.templates_for(points)) == MAX_TEMPLATES


def test_clear_puts_the_template_points_back():
    collection, points = make_collection()
    propagate(collection, points, "p0", (0.9, 0.9))
    edits = clear_points(collection, "p0", points["p0"])
    assert [e.after for e in edits] == collection.template_copies()
    collection.forget("p0")
    assert collection.missing(collection.images[0]) == [0, 1]


def test_the_file_part_round_trips_and_names_a_malformed_field(tmp_path):
    collection, points = make_collection()
    propagate(collection, points, "p0", (0.9, 0.123456789))
    collection.set_not_visible("right_ankle", True)
    collection.set_thresholds(ReviewThresholds(0.03, 0.1))
    data = json.loads(json.dumps(collection_to_dict(collection, Path("/photos"))))
    assert data["images"][0]["path"] == "0.jpg"  # relative to the session file's folder
    again = collection_from_dict(data, Path("/photos"))
    assert again.template == collection.template
    assert again.not_visible == {"right_ankle"}
    assert again.thresholds == collection.thresholds
    assert [(i.pair_id, i.path, i.facts, i.propagated) for i in again.images] == [
        (i.pair_id, i.path, i.facts, i.propagated) for i in collection.images
    ]
    data["template"]["points"][0]["label"] = "beak"
    with pytest.raises(DocumentError, match=r"template.points\[0\].label must name a keypoint"):
        collection_from_dict(data, Path("/photos"))


def test_a_session_with_a_malformed_collection_is_refused_with_the_field(tmp_path):
    collection, _points = make_collection(1)
    session = Session()
    session.set_pairs([PairEntry("p0", Path("/photos/template.jpg"), Path("/photos/0.jpg"))])
    session.collection = collection
    save_session(session, tmp_path / "s.json")
    assert load_session(tmp_path / "s.json").collection.template == collection.template
    data = json.loads((tmp_path / "s.json").read_text())
    data["collection"]["images"][0]["points"] = [{"id": 0, "from": [1.0, "x"]}]
    (tmp_path / "s.json").write_text(json.dumps(data))
    with pytest.raises(DocumentError, match=r"s\.json': collection.*malformed"):
        load_session(tmp_path / "s.json")


def test_forget_announces_only_a_real_change():
    collection, points = make_collection()
    propagate(collection, points, "p0", (0.9, 0.9))
    events = []
    collection.changed.connect(events.append)
    collection.forget("p1", [0, 1])  # nothing was propagated there
    collection.forget("p0", [5])  # no such point
    assert events == []
    collection.forget("p0", [1])
    assert events == ["p0"] and collection.missing(collection.images[0]) == [1]


def test_the_app_model_owns_the_collection_and_announces_every_change():
    """Collection changes reach subscribers through the model; points change only through its methods."""
    collection, points = make_collection(2)
    session = Session()
    session.set_pairs([PairEntry(i.pair_id, collection.template_path, i.path) for i in collection.images])
    for pair_id, copies in points.items():
        session.set_points(pair_id, copies)
    session.collection = collection
    model = AppModel(AppPreferences())
    changed, edited = [], []
    model.collection_changed.connect(changed.append)
    model.edited.connect(edited.append)
    model.set_session(session)
    assert model.collection is collection

    # Propagation answers: predictions into the points, facts into the collection, one event.
    candidate = Candidate("template.jpg", (4.0, 6.0), 0.8, 0.5, 100, True)
    asked = {i: p.xy for i, p in collection.template.items()}
    model.apply_propagation("p1", asked, {0: candidate, 1: candidate}, {"model": "test"}, [])
    assert [p.trg_xy for p in session.points("p1")] == [(4.0, 6.0)] * 2
    assert collection.image("p1").facts[0] == PointFacts(0.8, 0.5, 100, "template.jpg")
    assert changed == ["p1"] and edited == []

    # A bulk accept is one undo step and one edit event.
    model.edit_points("accept 2 passing point(s)", accept_passing(collection, "p1", session.points("p1")))
    assert [p.status for p in session.points("p1")] == ["accepted"] * 2
    assert edited == ["accept 2 passing point(s)"]
    assert model.edit_points("nothing", []) is None and len(edited) == 1
    model.undo()
    assert [p.status for p in session.points("p1")] == ["predicted"] * 2

    # A template point moved on the open pair's source reaches every image; approved targets stay.
    model.go_to(0)
    nose = session.point(0)
    model.edit("move source point", nose.moved_source((11.0, 21.0)))
    changed.clear()
    assert model.mirror_template()
    assert collection.template[0].xy == (11.0, 21.0) and session.point(0, "p1").src_xy == (11.0, 21.0)
    assert collection.missing(collection.image("p1")) == [0]  # predicted again from its new place
    assert changed[-1] is None and not model.mirror_template()

    # New engine settings: unreviewed predictions are forgotten (propagated again), reviewed ones stay.
    session.replace_point("p1", 1, session.point(1, "p1").changed(status="accepted"))
    points_of = {i.pair_id: session.points(i.pair_id) for i in collection.images}
    assert collection.forget_unreviewed(points_of) == 1  # p1's point 0; its point 1 is reviewed, p0 has none
    assert collection.missing(collection.image("p1")) == [0] and 1 in collection.image("p1").facts

    # Failed images are retried on request; a replaced session's collection is no longer followed.
    collection.fail("p0", "0.jpg: cannot read")
    assert collection.retry_failed() == ["p0"] and collection.missing(collection.image("p0"))
    changed.clear()
    model.set_session(Session())
    collection.fail("p0", "0.jpg: cannot read")
    assert changed == [] and model.collection is None


@pytest.mark.parametrize("name", ["collection.py", "labels.py", "review_queue.py"])
def test_collection_controllers_take_the_model_not_the_app_controller(name):
    """Collection mode is a model part: its controllers never reach into the app controller nor
    redraw by hand (the app follows the model's events)."""
    text = (REPO / "sd4match_gui" / "controller" / name).read_text(encoding="utf-8")
    assert "AppController" not in text and "app_controller" not in text
    assert "after_change" not in text and "presenter" not in text
