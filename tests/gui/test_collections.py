"""Collection mode in the app: keypoint names, propagation, the review queue, COCO export, sessions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from engine import LocalisationSettings, PromptSpec
from engine.collections.schema import COCO_PERSON_KEYPOINTS
from sd4match_gui.collection_benchmark import make_images
from sd4match_gui.model.collection import FAILED, NEEDS_REVIEW, PREDICTING, REVIEWED, PointFacts
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import DEMO_SOURCE
from tests.gui.conftest import SIFT, wait_idle, wait_loaded
from tests.gui.helpers import click

# Template points on the astronaut (source pixels): face, eyes, ...
TEMPLATE_XY = [(260.0, 170.0), (230.0, 140.0), (290.0, 140.0), (200.0, 330.0)]


def label_template(qtbot, controller, count: int = len(TEMPLATE_XY)) -> None:
    """COCO person names, then ``count`` clicks on the source: one name each (auto-advance)."""
    controller.collection.labels.choose_schema("coco-person", 0)
    for xy in TEMPLATE_XY[:count]:
        click(controller.window.canvas, SOURCE, xy)
    qtbot.waitUntil(lambda: len(controller.session.points()) == count)


def open_collection(qtbot, controller, targets: list[Path]) -> None:
    assert controller.collection.new_collection(None, targets)
    assert controller.session.collection is not None


def wait_propagated(qtbot, controller, timeout: int = 60000) -> None:
    collection = controller.session.collection
    qtbot.waitUntil(
        lambda: not any(collection.missing(i) for i in collection.images) and controller.collection.in_flight is None,
        timeout=timeout,
    )
    wait_idle(qtbot, controller)


# ---- names ----


def test_clicks_take_the_next_name_and_number_keys_choose_any(make_app, qtbot, sift_matcher):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 3)
    labels = [p.label for p in controller.session.points()]
    assert labels == list(COCO_PERSON_KEYPOINTS[:3])  # auto-advance in schema order
    dock = controller.window.label_panel
    assert controller.collection.labels.labelling.active == COCO_PERSON_KEYPOINTS[3]
    assert "point 1" in dock.names.item(0).text()

    # Two digits typed quickly make one number: 17 is right_ankle (a window shortcut would take "1").
    dock.names.setFocus()
    QTest.keyClick(dock.names, Qt.Key.Key_1)
    QTest.keyClick(dock.names, Qt.Key.Key_7)
    assert controller.collection.labels.labelling.active == "right_ankle"
    click(controller.window.canvas, SOURCE, (250.0, 480.0))
    qtbot.waitUntil(lambda: len(controller.session.points()) == 4)
    assert controller.session.points()[-1].label == "right_ankle"
    assert all(p.visibility == 2 for p in controller.session.points())  # the digits did not set visibility

    # A placed name chosen by click is moved by the next click, not placed twice.
    item = dock.names.item(1)
    QTest.mouseClick(dock.names.viewport(), Qt.MouseButton.LeftButton, pos=dock.names.visualItemRect(item).center())
    assert controller.collection.labels.labelling.active == "left_eye"
    click(controller.window.canvas, SOURCE, (205.0, 175.0))
    qtbot.waitUntil(lambda: controller.session.points()[1].src_xy != (230.0, 140.0))
    assert len(controller.session.points()) == 4
    assert abs(controller.session.points()[1].src_xy[0] - 205.0) < 2

    # "Not visible" skips a name: auto-advance passes it by.
    dock.names.setFocus()
    QTest.qWait(900)  # a pause: the next digit starts a new number
    QTest.keyClick(dock.names, Qt.Key.Key_4)
    assert controller.collection.labels.labelling.active == "left_ear"
    QTest.mouseClick(dock.not_visible, Qt.MouseButton.LeftButton)
    assert controller.collection.labels.labelling.active == "right_ear"
    assert "not visible" in dock.names.item(3).text()
    # Markers show the names.
    assert "1 nose" in controller.window.canvas.source.view.markers.label_texts()


def test_a_name_freed_by_undo_or_delete_is_the_next_click(make_app, qtbot, sift_matcher):
    """Undo of a placed name, or deleting its point, makes that name the next click's again, also
    after every name was placed (the dock must not say "every keypoint is placed" with one left)."""
    controller = make_app(sift_matcher)
    labels, canvas = controller.collection.labels, controller.window.canvas
    labels.choose_schema("numbered", 3)
    click(canvas, SOURCE, TEMPLATE_XY[0])
    qtbot.waitUntil(lambda: len(controller.session.points()) == 1)
    assert labels.labelling.active == "2"
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the first click
    qtbot.waitUntil(lambda: not controller.session.points())
    assert labels.labelling.active == "1"
    for xy in TEMPLATE_XY[:3]:
        click(canvas, SOURCE, xy)
    qtbot.waitUntil(lambda: len(controller.session.points()) == 3)
    assert [p.label for p in controller.session.points()] == ["1", "2", "3"]
    assert labels.labelling.active is None
    controller.model.select(controller.session.points()[0].id)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(controller.session.points()) == 2)
    assert labels.labelling.active == "1"
    assert "Next click: 1." in controller.window.label_panel.status.text()
    click(canvas, SOURCE, (240.0, 200.0))
    qtbot.waitUntil(lambda: len(controller.session.points()) == 3)
    assert sorted(p.label for p in controller.session.points()) == ["1", "2", "3"]


def test_without_names_clicks_add_numbered_points(make_app, qtbot, sift_matcher):
    controller = make_app(sift_matcher)
    click(controller.window.canvas, SOURCE, TEMPLATE_XY[0])
    qtbot.waitUntil(lambda: len(controller.session.points()) == 1)
    assert controller.session.points()[0].label == ""


# ---- propagation ----


def test_new_collection_propagates_to_every_image_as_results_arrive(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller)
    template = controller.session.pair.source
    targets = make_images(tmp_path / "birds", 4)
    arrivals: list[int] = []
    open_collection(qtbot, controller, [tmp_path / "birds"])
    session = controller.session
    collection = session.collection
    collection.changed.connect(lambda pair_id: arrivals.append(pair_id) if pair_id else None)
    assert [image.path for image in collection.images] == [p.resolve() for p in targets]
    assert all(pair.source == template for pair in session.pairs)
    wait_propagated(qtbot, controller)
    assert len(set(arrivals)) >= 3  # answers came one image at a time (the first may predate the hook)
    for image in collection.images:
        points = session.points(image.pair_id)
        assert [p.label for p in points] == list(COCO_PERSON_KEYPOINTS[:4])  # the template's ids and names
        assert all(p.trg_xy is not None and p.predictions for p in points)
        assert set(image.facts) == {p.id for p in points}
        assert all(f.cycle_error >= 0 and 0 <= f.confidence <= 1 for f in image.facts.values())
    dock = controller.window.review_panel
    rows = dock.images
    assert rows.count() == 4
    # the queue refreshes once per event-loop turn after answers arrive
    qtbot.waitUntil(
        lambda: all("needs review" in rows.item(i).text() or "reviewed" in rows.item(i).text() for i in range(4))
    )
    qtbot.waitUntil(lambda: dock.thumbnails_pending() == 0)
    assert all(not rows.item(i).icon().isNull() for i in range(4))


def test_an_image_that_does_not_load_is_reported_by_name_and_skipped(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    targets = make_images(tmp_path / "set", 3)
    targets[1].write_text("not a JPEG")
    open_collection(qtbot, controller, [tmp_path / "set"])
    collection = controller.session.collection
    controller.collection.review.go_to_image(collection.images[2].pair_id)  # away from the broken one
    wait_propagated(qtbot, controller)
    broken = collection.image(collection.images[1].pair_id)
    assert broken.path == targets[1].resolve()
    assert broken.error.startswith(f"{targets[1].name}: ")
    summaries = controller.collection.review.summaries()
    assert summaries[broken.pair_id].state == FAILED
    assert [summaries[i.pair_id].state for i in (collection.images[0], collection.images[2])] == [NEEDS_REVIEW] * 2
    assert targets[1].name in controller.window.review_panel.images.item(1).text()


def test_propagation_matches_sd4match_match(make_app, qtbot, sift_matcher, tmp_path):
    """One template: the app's predictions are those of the engine's propagate_to (= ``sd4match match``)."""
    from engine import load_image
    from engine.collections.propagate import match_with_cycle

    controller = make_app(sift_matcher)
    label_template(qtbot, controller)
    targets = make_images(tmp_path / "set", 2)
    open_collection(qtbot, controller, targets)
    wait_propagated(qtbot, controller)
    session = controller.session
    variant = session.settings.active_variants()[0]
    xy = np.array([p.xy for _, p in sorted(session.collection.template.items())])  # where the clicks landed
    for image in session.collection.images:
        _, result, cycle = match_with_cycle(
            sift_matcher,
            load_image(DEMO_SOURCE),
            xy,
            load_image(image.path),
            variant.prompt,
            variant.settings,
            session.settings.localisation or LocalisationSettings(),
        )
        got = np.array([p.trg_xy for p in session.points(image.pair_id)])
        np.testing.assert_allclose(got, result.match_xy, atol=1e-6)
        np.testing.assert_allclose([image.facts[i].cycle_error for i in range(4)], cycle, atol=1e-6)


def test_cancel_stops_propagation_and_resume_goes_on(make_app, qtbot, gated_matcher, tmp_path):
    controller = make_app(gated_matcher.matcher)
    label_template(qtbot, controller, 2)
    wait_idle(qtbot, controller)
    targets = make_images(tmp_path / "set", 5)
    gated_matcher.gate.clear()  # the first image's extraction waits: the job is running
    open_collection(qtbot, controller, targets)
    qtbot.waitUntil(gated_matcher.held.is_set, timeout=20000)
    dock = controller.window.review_panel
    qtbot.waitUntil(lambda: controller.settled)
    assert dock.progress.isVisible()
    QTest.mouseClick(dock.progress.cancel, Qt.MouseButton.LeftButton)
    assert not controller.collection.running
    gated_matcher.gate.set()
    qtbot.waitUntil(lambda: controller.collection.in_flight is None, timeout=30000)
    QTest.qWait(300)
    collection = controller.session.collection
    left = [image for image in collection.images if collection.missing(image)]
    assert len(left) >= 3  # at most the image in flight (and the open pair's own computation) got done
    assert controller.collection.answered <= 1
    assert not dock.progress.isVisible()
    # The images left are not shown as "predicting" while nothing predicts them.
    rows = [dock.images.item(i).text() for i in range(dock.images.count())]
    assert not any("predicting" in row for row in rows)
    assert sum("stopped" in row for row in rows) == len(left)
    controller.window.actions["resume_propagation"].trigger()
    assert any("predicting" in dock.images.item(i).text() for i in range(dock.images.count()))
    wait_propagated(qtbot, controller)
    assert not any(collection.missing(image) for image in collection.images)


def test_a_point_added_on_the_template_reaches_every_image(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    open_collection(qtbot, controller, make_images(tmp_path / "set", 3))
    wait_propagated(qtbot, controller)
    click(controller.window.canvas, SOURCE, TEMPLATE_XY[2])  # the next name: right_eye
    session = controller.session
    wait_propagated(qtbot, controller)
    for image in session.collection.images:
        points = session.points(image.pair_id)
        assert [p.label for p in points] == ["nose", "left_eye", "right_eye"]
        assert points[2].trg_xy is not None and 2 in image.facts


def test_resume_retries_images_that_failed(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    targets = make_images(tmp_path / "set", 3)
    good = targets[1].read_bytes()
    targets[1].write_text("not a JPEG")
    open_collection(qtbot, controller, targets)
    wait_propagated(qtbot, controller)
    collection = controller.session.collection
    broken = collection.images[1]
    assert controller.collection.review.summaries()[broken.pair_id].state == FAILED
    targets[1].write_bytes(good)  # the user fixed the file
    controller.window.actions["resume_propagation"].trigger()
    wait_propagated(qtbot, controller)
    assert broken.error == ""
    assert controller.collection.review.summaries()[broken.pair_id].state == NEEDS_REVIEW
    assert all(p.trg_xy is not None and p.predictions for p in controller.session.points(broken.pair_id))


# ---- review ----


@pytest.fixture
def reviewed_collection(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher)
    label_template(qtbot, controller)
    open_collection(qtbot, controller, make_images(tmp_path / "set", 4))
    wait_propagated(qtbot, controller)
    return controller


def test_queue_sorts_least_confident_first_and_jumps_to_flagged_points(reviewed_collection, qtbot):
    controller = reviewed_collection
    collection, session = controller.session.collection, controller.session
    dock = controller.window.review_panel
    # Thresholds that flag about half of the predictions.
    confidences = sorted(f.confidence for image in collection.images for f in image.facts.values())
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(round(confidences[len(confidences) // 2], 3) + 0.0005)
    assert collection.thresholds.min_confidence == dock.min_confidence.value()

    box = dock.least_confident_first
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))  # on its indicator
    assert controller.collection.review.least_confident_first
    summaries = controller.collection.review.summaries()
    shown = [dock.images.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dock.images.count())]
    least = [summaries[pair_id].least_confidence for pair_id in shown]
    assert least == sorted(least)
    assert sum(s.flagged for s in summaries.values()) > 0

    # Shift+N: the flagged points one by one, across images.
    seen = []
    for _ in range(sum(s.flagged for s in summaries.values())):
        QTest.keyClick(controller.window, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
        point = session.selected_point
        assert point is not None and collection.flagged(session.pair.pair_id, point)
        assert f"Point {point.number} ({point.label}): confidence" in controller.window.statusBar().currentMessage()
        seen.append((session.pair.pair_id, point.id))
    assert len(set(seen)) == len(seen)

    # Click a row: that image opens.
    item = dock.images.item(dock.images.count() - 1)
    QTest.mouseClick(dock.images.viewport(), Qt.MouseButton.LeftButton, pos=dock.images.visualItemRect(item).center())
    assert session.pair.pair_id == item.data(Qt.ItemDataRole.UserRole)


def test_bulk_accept_clear_and_next_image_needing_review(reviewed_collection, qtbot):
    controller = reviewed_collection
    session, collection = controller.session, controller.session.collection
    dock = controller.window.review_panel
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(0.0)  # nothing flagged: "accept passing" accepts everything
    first = session.pair.pair_id
    QTest.mouseClick(dock.accept_image_button, Qt.MouseButton.LeftButton)
    assert all(p.status == "accepted" for p in session.points(first))
    assert controller.collection.review.summaries()[first].state == REVIEWED
    wait_idle(qtbot, controller)
    assert "reviewed" in dock.images.item(0).text()
    QTest.mouseClick(dock.accept_image_button, Qt.MouseButton.LeftButton)  # nothing unflagged left
    message = controller.window.statusBar().currentMessage()
    assert message == "No unflagged prediction left to accept on this image (Shift+N selects the flagged ones)."

    QTest.keyClick(controller.window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert session.pair.pair_id != first
    assert controller.collection.review.summaries()[session.pair.pair_id].state == NEEDS_REVIEW

    # A flagged point stays for a person when accepting on all images.
    image = collection.images[2]
    image.facts[0] = PointFacts(0.9, cycle_error=1e6, template_side=512, template="x")  # far off on the way back
    QTest.mouseClick(dock.accept_all_button, Qt.MouseButton.LeftButton)
    assert session.points(image.pair_id)[0].status == "predicted"
    assert all(p.status == "accepted" for i in collection.images for p in session.points(i.pair_id)[1:])
    controller.window.actions["undo"].trigger()  # one undo step undoes the whole bulk accept
    assert all(p.status == "predicted" for i in collection.images[1:] for p in session.points(i.pair_id))

    # Clear: predictions go, the image is predicted again.
    controller.collection.review.go_to_image(collection.images[1].pair_id)
    QTest.mouseClick(dock.clear_button, Qt.MouseButton.LeftButton)
    state = controller.collection.review.summaries()[collection.images[1].pair_id].state
    assert state == PREDICTING
    wait_propagated(qtbot, controller)
    assert all(p.trg_xy is not None for p in session.points(collection.images[1].pair_id))


def test_reviewed_images_become_templates(reviewed_collection, qtbot):
    controller = reviewed_collection
    session, collection = controller.session, controller.session.collection
    controller.window.review_panel.min_confidence.setValue(0.0)
    controller.window.review_panel.max_cycle.setValue(1.0)
    controller.window.canvas.setFocus()
    QTest.keyClick(controller.window, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # accept passing
    points_of = {i.pair_id: session.points(i.pair_id) for i in collection.images}
    templates = collection.templates_for(points_of)
    assert [t[1] for t in templates] == [collection.template_path, collection.images[0].path]
    # Predicted again, a later image is predicted from both: every candidate names its template.
    controller.collection.review.go_to_image(collection.images[3].pair_id)
    QTest.mouseClick(controller.window.review_panel.clear_button, Qt.MouseButton.LeftButton)
    wait_propagated(qtbot, controller)
    winners = {f.template for f in collection.images[3].facts.values()}
    assert winners <= {collection.template_path.name, collection.images[0].path.name}


def test_flagged_predictions_are_marked_on_the_canvas(reviewed_collection, qtbot):
    controller = reviewed_collection
    dock, panel = controller.window.review_panel, controller.window.canvas.targets[0]
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(0.0)  # nothing flagged
    assert not any(text.endswith(" ?") for text in panel.view.markers.label_texts())
    dock.min_confidence.setValue(1.0)  # every unreviewed prediction flagged
    assert sorted(panel.view.markers.label_texts()) == sorted(
        f"{p.number} {p.label} ?" for p in controller.session.points()
    )
    controller.window.actions["next_point"].trigger()
    controller.window.actions["accept"].trigger()  # reviewed: no longer flagged
    accepted = controller.session.selected_point
    assert accepted.status == "accepted"
    wait_idle(qtbot, controller)
    assert f"{accepted.number} {accepted.label}" in panel.view.markers.label_texts()
    # The source shows the template's points, never a flag.
    assert not any(text.endswith(" ?") for text in controller.window.canvas.source.view.markers.label_texts())


def test_new_engine_settings_propagate_unreviewed_points_again(reviewed_collection, qtbot):
    controller = reviewed_collection
    session, collection = controller.session, controller.session.collection
    dock = controller.window.review_panel
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(0.0)
    QTest.mouseClick(dock.accept_image_button, Qt.MouseButton.LeftButton)  # the open image is reviewed
    reviewed = collection.images[0].pair_id
    kept = session.points(reviewed)
    old_runs = {r.run_id for i in collection.images[1:] for p in session.points(i.pair_id) for r in p.predictions}
    controller.settings.set_engine(PromptSpec(), SIFT, LocalisationSettings(method="argmax"))
    assert controller.collection.review.summaries()[collection.images[1].pair_id].state == PREDICTING
    wait_propagated(qtbot, controller)
    assert [(p.status, p.trg_xy) for p in session.points(reviewed)] == [(p.status, p.trg_xy) for p in kept]
    for image in collection.images[1:]:
        for point in session.points(image.pair_id):
            assert point.status == "predicted"
            newest = [r for r in point.predictions if r.run_id not in old_runs]
            assert newest and point.trg_xy == newest[0].xy  # predicted again, under the new settings
            assert session.runs.details(newest[0].run_id)["matching"]["localisation"] == "argmax"


def test_an_image_in_flight_when_settings_change_is_predicted_again(make_app, qtbot, gated_matcher, tmp_path):
    controller = make_app(gated_matcher.matcher)
    label_template(qtbot, controller, 2)
    wait_idle(qtbot, controller)
    gated_matcher.gate.clear()  # the first image's extraction waits: it is in flight with the old settings
    open_collection(qtbot, controller, make_images(tmp_path / "set", 3))
    qtbot.waitUntil(gated_matcher.held.is_set, timeout=20000)
    collection = controller.session.collection
    assert controller.collection.in_flight.pair_id == collection.images[0].pair_id
    controller.collection.review.go_to_image(collection.images[2].pair_id)  # only propagation predicts image 1
    controller.settings.set_engine(PromptSpec(), SIFT, LocalisationSettings(method="argmax"))
    gated_matcher.gate.set()
    wait_propagated(qtbot, controller)
    session = controller.session
    for image in session.collection.images:
        for point in session.points(image.pair_id):
            primary = next(r for r in point.predictions if r.xy == point.trg_xy)
            assert session.runs.details(primary.run_id)["matching"]["localisation"] == "argmax"


# ---- export and sessions ----


def test_coco_export_loads_with_a_coco_reader(reviewed_collection, tmp_path):
    controller = reviewed_collection
    session = controller.session
    QTest.mouseClick(controller.window.review_panel.accept_image_button, Qt.MouseButton.LeftButton)
    path = controller.collection.export_coco(tmp_path / "out" / "coco")
    assert path is not None and path.suffix == ".json"
    data = json.loads(path.read_text())
    assert {"images", "annotations", "categories"} <= set(data)
    category = data["categories"][0]
    assert category["keypoints"] == list(COCO_PERSON_KEYPOINTS)
    assert category["skeleton"] and all(1 <= i <= 17 for link in category["skeleton"] for i in link)
    images = {image["id"]: image for image in data["images"]}
    assert len(images) == 1 + len(session.collection.images)  # the template, then every image
    message = controller.window.statusBar().currentMessage()
    assert (
        message == f"Exported the template and {len(session.collection.images)} image(s) as COCO keypoints to {path}."
    )
    for annotation in data["annotations"]:
        image = images[annotation["image_id"]]
        assert (path.parent / image["file_name"]).is_file()
        assert {"id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd"} <= set(
            annotation
        )
        flat = annotation["keypoints"]
        assert len(flat) == 3 * 17
        v = flat[2::3]
        assert annotation["num_keypoints"] == sum(1 for value in v if value > 0) == 4
        assert v[:4] == [2, 2, 2, 2] and v[4:] == [0] * 13  # the schema's order: nose, eyes, left_ear
        xs = [flat[3 * i] for i in range(4)]
        x, _, w, _ = annotation["bbox"]
        assert x <= min(xs) + 1e-6 and x + w >= max(xs) - 1e-6
    # pycocotools' reader, when installed, loads it without complaint.
    coco = pytest.importorskip("pycocotools.coco")
    reader = coco.COCO(str(path))
    assert len(reader.getAnnIds()) == len(data["annotations"])


def test_session_save_and_reopen_resumes_the_collection(reviewed_collection, qtbot, tmp_path):
    controller = reviewed_collection
    collection = controller.session.collection
    QTest.mouseClick(controller.window.review_panel.accept_image_button, Qt.MouseButton.LeftButton)
    collection.set_not_visible("right_ankle", True)
    assert controller.files.save_session(tmp_path / "birds.json")
    data = json.loads((tmp_path / "birds.json").read_text())
    assert data["collection"]["schema"]["keypoints"] == list(COCO_PERSON_KEYPOINTS)
    controller.files.open_pairs([])  # something else
    controller.files.open_session(tmp_path / "birds.json")
    wait_loaded(qtbot, controller)
    reopened = controller.session.collection
    assert reopened is not None and reopened is not collection
    assert [i.path for i in reopened.images] == [i.path for i in collection.images]
    assert reopened.template == collection.template
    assert reopened.not_visible == {"right_ankle"}
    assert {i.pair_id: i.facts for i in reopened.images} == {i.pair_id: i.facts for i in collection.images}
    assert controller.collection.in_flight is None  # nothing left to propagate: nothing computed again
    first = reopened.images[0].pair_id
    assert all(p.status == "accepted" for p in controller.session.points(first))
    assert controller.window.review_panel.images.count() == len(reopened.images)


def test_autosave_keeps_the_collection(reviewed_collection, qtbot):
    controller = reviewed_collection
    path = controller.files.recovery_path

    def saved() -> dict:
        return json.loads(path.read_text()) if path.exists() else {}

    # The answers' autosave comes shortly after the last one (saves after results are coalesced).
    qtbot.waitUntil(lambda: all(len(i["points"]) == 4 for i in saved().get("collection", {}).get("images", [{}])))
    data = saved()
    assert len(data["collection"]["images"]) == 4
    assert all(len(k["predictions"]) == 1 for pair in data["pairs"] for k in pair["keypoints"])
    # An action is saved at once: accept this image (nothing flagged), the file says so.
    dock = controller.window.review_panel
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(0.0)
    QTest.mouseClick(dock.accept_image_button, Qt.MouseButton.LeftButton)
    controller.files.writer.flush()
    assert saved()["collection"]["thresholds"] == {"max_cycle_error": 1.0, "min_confidence": 0.0}
    assert [k["status"] for k in saved()["pairs"][0]["keypoints"]] == ["accepted"] * 4


def test_names_from_a_coco_file_and_a_bad_schema_file_is_one_line(make_app, qtbot, sift_matcher, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    coco = tmp_path / "birds.json"
    category = {"id": 3, "name": "bird", "keypoints": ["beak", "eye", "tail"], "skeleton": [[1, 2]]}
    coco.write_text(json.dumps({"images": [], "annotations": [], "categories": [category]}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "sd4match-keypoints", "version": 1, "name": "x", "keypoints": ["a", "a"]}')
    chosen = iter([str(coco), str(broken)])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (next(chosen), ""))
    controller = make_app(sift_matcher)
    dock = controller.window.label_panel
    controller.collection.labels.choose_schema("coco-file", 0)
    assert [dock.names.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dock.names.count())] == [
        "beak",
        "eye",
        "tail",
    ]
    click(controller.window.canvas, SOURCE, TEMPLATE_XY[0])
    qtbot.waitUntil(lambda: len(controller.session.points()) == 1)
    assert controller.session.points()[0].label == "beak"
    controller.collection.labels.choose_schema("schema-file", 0)
    banner = controller.window.message_banner
    assert banner.isVisible() and "repeats an earlier name" in banner.text
    assert controller.collection.labels.labelling.schema.name == "bird"  # the names in use stay


def test_file_new_collection_dialog_takes_the_source_and_a_folder(make_app, qtbot, sift_matcher, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    make_images(tmp_path / "set", 2)
    controller.window.actions["new_collection"].trigger()
    dialog = controller.collection._dialog
    assert dialog is not None and dialog.use_source.isChecked() and "2 point(s)" in dialog.use_source.text()
    QTest.keyClicks(dialog.targets, str(tmp_path / "set"))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.session.collection is not None)
    assert len(controller.session.collection.images) == 2
    assert [p.label for p in controller.session.points()] == ["nose", "left_eye"]


def test_a_template_image_without_points_is_labelled_inside_the_collection(make_app, qtbot, sift_matcher, tmp_path):
    controller = make_app(sift_matcher, demo=False)
    targets = make_images(tmp_path / "set", 2)
    controller.collection.labels.choose_schema("coco-person", 0)
    assert controller.collection.new_collection(DEMO_SOURCE, targets)
    assert controller.session.points() == []
    wait_idle(qtbot, controller)
    click(controller.window.canvas, SOURCE, TEMPLATE_XY[0])
    wait_propagated(qtbot, controller)
    session = controller.session
    for image in session.collection.images:
        assert [p.label for p in session.points(image.pair_id)] == ["nose"]
        assert session.points(image.pair_id)[0].trg_xy is not None
    assert not controller.collection.new_collection(tmp_path / "missing.jpg", targets)
    assert "does not exist" in controller.window.message_banner.text


def test_a_collection_is_not_prefetched_beside_its_propagation(make_app, qtbot, sift_matcher, tmp_path):
    """Propagation extracts every image itself; a prefetch plan would only compete with it."""
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    open_collection(qtbot, controller, make_images(tmp_path / "set", 3))
    wait_propagated(qtbot, controller)
    assert len(controller.session.pairs) == 3
    assert controller.prefetch.sent[-1].pairs == ()


def test_a_restored_window_layout_shows_the_review_dock_only_with_a_collection(make_app, qtbot, sift_matcher):
    """The last run's layout (saved with a collection open) must not bring back an empty Review dock
    with zero thresholds when the app starts without a collection."""
    controller = make_app(sift_matcher)
    window = controller.window
    window.review_dock.show()  # as it was when the last run closed on a collection
    state = window.saveState()
    window.review_dock.hide()
    assert window.restoreState(state)
    assert controller.session.collection is None
    assert window.review_dock.isHidden()


def test_a_reopened_half_propagated_collection_goes_on_propagating(make_app, qtbot, gated_matcher, tmp_path):
    """A collection saved (or autosaved) before every image was predicted is predicted to the end
    when reopened, as after a crash and File > Recover unsaved work."""
    controller = make_app(gated_matcher.matcher)
    label_template(qtbot, controller, 2)
    wait_idle(qtbot, controller)
    targets = make_images(tmp_path / "set", 4)
    gated_matcher.gate.clear()
    open_collection(qtbot, controller, targets)
    qtbot.waitUntil(gated_matcher.held.is_set, timeout=20000)
    controller.collection.cancel()
    gated_matcher.gate.set()
    qtbot.waitUntil(lambda: controller.collection.in_flight is None, timeout=30000)
    collection = controller.session.collection
    assert any(collection.missing(image) for image in collection.images)
    assert controller.files.save_session(tmp_path / "half.json")
    controller.files.open_pairs([])  # something else, as a new start of the app
    controller.files.reopen_recovery(tmp_path / "half.json")
    qtbot.waitUntil(lambda: controller.session.collection is not None, timeout=20000)
    wait_propagated(qtbot, controller, timeout=30000)
    reopened = controller.session.collection
    assert not any(reopened.missing(image) or image.error for image in reopened.images)
    assert all(len(controller.session.points(image.pair_id)) == 2 for image in reopened.images)
    assert all(p.trg_xy is not None for i in reopened.images for p in controller.session.points(i.pair_id))


def test_an_answer_that_cannot_be_stored_fails_the_image_instead_of_asking_again(
    make_app, qtbot, sift_matcher, tmp_path
):
    """Should an image's pair lack the template's points, its answers cannot land: the image is
    marked failed once, rather than requested again and again (one core busy for ever)."""
    controller = make_app(sift_matcher)
    label_template(qtbot, controller, 2)
    open_collection(qtbot, controller, make_images(tmp_path / "set", 2))
    wait_propagated(qtbot, controller)
    collection, session = controller.session.collection, controller.session
    broken = collection.images[1]
    session.set_points(broken.pair_id, [])  # as a file that kept no points for it did before
    collection.forget(broken.pair_id)
    answered = controller.collection.answered
    controller.window.actions["resume_propagation"].trigger()
    qtbot.waitUntil(lambda: broken.error != "", timeout=30000)
    wait_idle(qtbot, controller)
    QTest.qWait(500)
    assert controller.collection.in_flight is None
    assert controller.collection.answered == answered + 1
    assert controller.collection.review.summaries()[broken.pair_id].state == FAILED


def test_a_correction_is_drawn_before_the_review_queue_is_refreshed(reviewed_collection, qtbot, monkeypatch):
    """The queue summarises every image: refreshed while the canvas waits for the correction's
    answer, it would hold up that answer; it is refreshed once the frame showing it is painted."""
    controller = reviewed_collection
    controller.annotation.select(0)
    wait_idle(qtbot, controller)
    review, canvas = controller.collection.review, controller.window.canvas
    holding = []
    refresh = review.refresh_queue
    monkeypatch.setattr(review, "refresh_queue", lambda: (holding.append(canvas.holding), refresh())[1])

    click(canvas, 0, (250.0, 180.0))  # the selected keypoint corrected on the open image
    qtbot.waitUntil(lambda: bool(holding))
    wait_idle(qtbot, controller)

    assert controller.session.point(0).status == "corrected"
    assert holding and not any(holding)
    assert "1/4 done" in controller.window.review_panel.images.currentItem().text()
