"""The status bar says what matters in the open mode, and its texts fit or are cut with a tooltip."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from sd4match_gui.collection_benchmark import make_images
from sd4match_gui.views.widgets import ElidedLabel
from tests.gui.conftest import wait_idle
from tests.gui.test_collections import label_template, open_collection, wait_propagated

SMALL, LARGE = (800, 500), (1600, 1000)


def status_texts_fit(window) -> list[str]:
    """The shown status texts that are cut without saying so (empty: all fit, or are cut with "…"
    and the whole text in their tooltip), and the widgets that stick out of the status bar."""
    bar = window.statusBar()
    faults = []
    for label in bar.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.mapTo(bar, label.rect().bottomRight()).x() > bar.width():
            faults.append(f"{label.text()!r} sticks out of the status bar")
        if isinstance(label, ElidedLabel):
            if label.elided and label.text() not in label.toolTip():
                faults.append(f"{label.text()!r} is cut without a tooltip")
        elif label.fontMetrics().horizontalAdvance(label.text()) > label.contentsRect().width():
            faults.append(f"{label.text()!r} is cut")
    shown = sorted(  # in the bar's coordinates: some texts sit inside a progress widget
        (label.mapTo(bar, QPoint(0, 0)).x(), label.mapTo(bar, QPoint(label.width() - 1, 0)).x(), label.text())
        for label in bar.findChildren(QLabel)
        if label.isVisible() and label.text() and label.width() > 0
    )
    for (_, right, text), (left, _, neighbour) in itertools.pairwise(shown):
        if left <= right:
            faults.append(f"{text!r} and {neighbour!r} overlap")
    return faults


def flagged_collection(make_app, qtbot, sift_matcher, folder, images: int):
    """The app with a labelled template propagated onto ``images`` images, every prediction flagged."""
    app = make_app(sift_matcher)
    label_template(qtbot, app)
    open_collection(qtbot, app, make_images(folder / "set", images))
    wait_propagated(qtbot, app)
    app.window.review_panel.min_confidence.setValue(1.0)  # every unreviewed prediction is flagged
    return app


def test_collection_status_counts_images_and_flags_and_fits_a_small_window(make_app, qtbot, sift_matcher, tmp_path):
    app = flagged_collection(make_app, qtbot, sift_matcher, tmp_path, 4)
    window = app.window
    window.review_panel.max_cycle.setValue(1.0)
    window.canvas.setFocus()
    QTest.keyClick(window, Qt.Key.Key_N)  # select the first point, and accept it: a reviewed target
    QTest.keyClick(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.session.selected_point.status == "accepted")
    status = window.collection_label
    for size in (SMALL, LARGE):
        window.resize(*size)
        qtbot.wait(100)
        window.statusBar().clearMessage()
        assert status.isVisible()
        assert status.text() == "image 1 of 4 · 3 flagged here · 0/4 reviewed · 15 flagged in all"
        # A collection has no ground truth: no PCK (an accepted point is no reference to score it against).
        assert not any("PCK" in label.text() for label in window.statusBar().findChildren(QLabel))
        assert status_texts_fit(window) == []
    QTest.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)  # the next image needing review
    qtbot.waitUntil(lambda: status.text().startswith("image 2 of 4 · 4 flagged here"))
    window.progress.show_stage("Preparing image 1 of 2 (Stable Diffusion, member 3/8) — about 40 s left", 0.3)
    qtbot.waitUntil(lambda: status_texts_fit(window) == [])  # once the status bar's layout has settled


def test_pair_status_texts_fit_a_small_window(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, demo=False)
    app.window.resize(*SMALL)
    app.open_demo()
    wait_idle(qtbot, app)  # the engine's answer redraws these labels: the texts below come after it
    window = app.window
    window.pck_label.setText("PCK@0.05 / @0.1 over 2 reference point(s): current: 0.00 / 0.50")
    window.selection_label.setText("point 12 “left eye” · confidence 0.93 · predicted · visible")
    window.cursor_label.setText("source x 1234.5  y 999.5 px → target x 1234.5  y 999.5 · confidence 0.93")
    window.progress.show_stage("Preparing image 1 of 2 (Stable Diffusion, member 3/8) — about 40 s left", 0.3)
    qtbot.waitUntil(lambda: status_texts_fit(window) == [])  # once the status bar's layout has settled


def test_a_long_message_is_cut_with_an_ellipsis_and_shown_whole_in_the_tooltip(make_app, qtbot, sift_matcher, tmp_path):
    app = flagged_collection(make_app, qtbot, sift_matcher, tmp_path, 2)
    window = app.window
    window.resize(*SMALL)
    qtbot.wait(100)
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # says why the point is flagged
    bar = window.statusBar()
    message = bar.currentMessage()
    assert message.startswith("Point 1 (nose): confidence")
    window.repaint()
    assert bar.toolTip() == message
    assert bar.shown_message().endswith("…") and message.startswith(bar.shown_message()[:-1])
    bar.clearMessage()
    window.repaint()
    assert bar.toolTip() == ""


def test_the_cursor_reading_gives_its_room_to_the_selection_off_the_images(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher)
    window = app.window
    window.resize(*SMALL)
    window.cursor_label.setText("source x 12.0  y 34.0 px")
    qtbot.waitUntil(lambda: window.cursor_label.isVisible())
    with_reading = window.selection_label.width()
    window.cursor_label.setText("")
    qtbot.waitUntil(lambda: window.selection_label.width() > with_reading)
    assert not window.cursor_label.isVisible() and status_texts_fit(window) == []
