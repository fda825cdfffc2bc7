"""Shift+D walks the review queue in the order the dock shows, also while rows move."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from sd4match_gui.collection_benchmark import make_images
from tests.gui.test_collections import label_template, open_collection, wait_propagated


def shown_rows(dock) -> list[tuple[str, str]]:
    """(pair id, text) of the Review dock's rows, top to bottom."""
    items = [dock.images.item(i) for i in range(dock.images.count())]
    return [(item.data(Qt.ItemDataRole.UserRole), item.text()) for item in items]


def test_shift_d_opens_the_top_unopened_row_of_the_least_confident_first_queue(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher)
    label_template(qtbot, app)
    open_collection(qtbot, app, make_images(tmp_path / "set", 5))
    wait_propagated(qtbot, app)
    window, dock, session = app.window, app.window.review_panel, app.session
    collection = session.collection
    box = dock.least_confident_first
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    rows = shown_rows(dock)
    assert rows[0][0] != session.pair.pair_id  # the open image is not the least confident one
    opened = {session.pair.pair_id}
    for _ in range(4):
        rows = shown_rows(dock)
        expected = next(pair_id for pair_id, text in rows if "needs review" in text and pair_id not in opened)
        QTest.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
        assert session.pair.pair_id == expected, f"Shift+D opened {session.pair.pair_id}, the queue shows {rows}"
        opened.add(expected)
        # Review its least confident point: the image's row moves down the queue.
        here = session.pair.pair_id
        least = min(session.points(), key=lambda p: collection.confidence(here, p))
        app.model.select(least.id)
        window.canvas.setFocus()
        QTest.keyClick(window, Qt.Key.Key_Return)
        assert session.point(least.id).status == "accepted"
        qtbot.waitUntil(lambda before=rows: shown_rows(dock) != before)
