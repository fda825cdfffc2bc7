"""The review queue's order and the Keypoints dock's names are remembered between runs."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from engine.collections.schema import COCO_PERSON
from sd4match_gui.app import build
from sd4match_gui.collection_benchmark import make_images
from tests.gui.test_collections import open_collection, wait_propagated


def choose_in_combo(qtbot, box, key: str) -> None:
    """Pick the item whose data is ``key`` with the arrow keys, as a user does."""
    box.setFocus()
    while box.currentData() != key:
        qtbot.keyClick(box, Qt.Key.Key_Down)


def test_the_queue_order_and_the_schema_come_back_in_the_next_run(make_app, qtbot, sift_matcher, store, tmp_path):
    first = make_app(sift_matcher)
    dock = first.window.label_panel
    choose_in_combo(qtbot, dock.schema_box, "coco-person")
    assert first.collection.labels.labelling.schema == COCO_PERSON
    box = first.window.review_panel.least_confident_first
    first.window.review_dock.show()
    qtbot.waitUntil(box.isVisible)
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert first.collection.review.least_confident_first
    first.window.close()

    second = build(store, lambda _config: sift_matcher)
    qtbot.addWidget(second.window)
    second.window.show()
    assert second.collection.labels.labelling.schema == COCO_PERSON
    assert second.window.label_panel.schema_key() == "coco-person"
    assert second.window.review_panel.least_confident_first.isChecked()
    assert second.collection.review.least_confident_first
    # A collection opened now is listed least confident first.
    second.open_demo()
    qtbot.waitUntil(lambda: second.computation.idle, timeout=20000)
    second.collection.labels.source_click(260.0, 170.0)
    second.collection.labels.source_click(230.0, 140.0)
    open_collection(qtbot, second, make_images(tmp_path / "set", 3))
    wait_propagated(qtbot, second)
    summaries = second.collection.review.summaries()
    panel = second.window.review_panel
    shown = [panel.images.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.images.count())]
    assert [summaries[pair_id].least_confidence for pair_id in shown] == sorted(
        summaries[pair_id].least_confidence for pair_id in shown
    )


def test_unreadable_stored_choices_fall_back_to_the_defaults(store):
    store.qsettings.setValue("labels/schema", '{"choice": "custom", "schema": {"schema": "other"}}')
    store.qsettings.setValue("review/least_confident_first", "maybe")
    preferences = store.load()
    assert (preferences.schema_choice, preferences.schema, preferences.least_confident_first) == ("none", None, False)
