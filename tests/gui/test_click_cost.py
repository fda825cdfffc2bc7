"""A click among a thousand points does the work of one point: one match, one row, one marker and
one line drawn on top of what is cached; an undo, an edit or a selection redraws the changed
markers and lines in place; the click and its answer are painted in one repaint; and the result
looks as a full redraw would."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF
from PySide6.QtGui import QImage

from engine.export.document import Keypoint
from sd4match_gui.controller import answer_wait
from sd4match_gui.model import session as session_module
from sd4match_gui.model.session_file import load_session
from sd4match_gui.views import markers
from sd4match_gui.views.connection_lines import ConnectionLines
from sd4match_gui.views.pair_canvas import SOURCE
from tests.gui.conftest import wait_idle
from tests.gui.helpers import click

MANY = 1000


def with_points(make_app, qtbot, sift_matcher, count: int):
    """The demo pair with ``count`` predicted points on the left three quarters of the source."""
    app = make_app(sift_matcher)
    rng = np.random.default_rng(0)
    spots = rng.uniform((10, 10), (360, 500), size=(count, 2))
    app.session.set_points(app.session.pair.pair_id, [Keypoint(i, (x, y)) for i, (x, y) in enumerate(spots)])
    app.after_change()
    qtbot.waitUntil(lambda: app.computation.idle and all(p.trg_xy is not None for p in app.session.points()))
    app.window.canvas.viewport().repaint()
    return app


def caches(app):
    canvas = app.window.canvas
    return [canvas.lines.cache, canvas.source.view.markers.cache, canvas.targets[0].view.markers.cache]


def canvas_image(app) -> QImage:
    return app.window.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_a_click_among_a_thousand_points_matches_and_draws_one_point(make_app, qtbot, sift_matcher, monkeypatch):
    app = with_points(make_app, qtbot, sift_matcher, MANY)
    table = app.window.points_table
    first_row = [table.item(0, column) for column in range(table.columnCount())]
    redraws = [cache.full_redraws for cache in caches(app)]
    asked = []
    submit = app.client.submit
    monkeypatch.setattr(
        app.client, "submit", lambda request: (asked.append(len(request.points_xy)), submit(request))[1]
    )

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    wait_idle(qtbot, app)
    app.window.canvas.viewport().repaint()

    new = app.session.point(MANY)
    assert new is not None and new.trg_xy is not None
    assert asked == [1]  # the new point only: the others hold this run's predictions
    assert [cache.full_redraws for cache in caches(app)] == redraws  # drawn on top, nothing redrawn
    assert [m.key for m in app.window.canvas.targets[0].view.markers.markers][-1] == MANY
    assert app.window.canvas.lines.links[-1].target_xy == new.trg_xy
    assert table.rowCount() == MANY + 1 and table.item(MANY, 0).text() == str(MANY + 1)
    assert [table.item(0, column) for column in range(table.columnCount())] == first_row  # rows kept, not rebuilt


def drawn(monkeypatch) -> dict[str, list[int]]:
    """How many markers and lines each drawing into a cache (or over it) draws, from now on."""
    counts: dict[str, list[int]] = {"markers": [], "lines": []}
    draw_markers, draw_lines = markers.draw_markers, ConnectionLines._draw

    def counted_markers(painter, transform, items):
        counts["markers"].append(len(items))
        draw_markers(painter, transform, items)

    def counted_lines(self, painter, transform, links):
        counts["lines"].append(len(links))
        draw_lines(self, painter, transform, links)

    monkeypatch.setattr(markers, "draw_markers", counted_markers)
    monkeypatch.setattr(ConnectionLines, "_draw", counted_lines)
    return counts


def test_an_undo_or_a_selection_among_a_thousand_points_redraws_only_what_changed(
    make_app, qtbot, sift_matcher, monkeypatch
):
    app = with_points(make_app, qtbot, sift_matcher, MANY)
    canvas = app.window.canvas
    click(canvas, SOURCE, (450.0, 300.0))
    wait_idle(qtbot, app)
    canvas.viewport().repaint()
    redraws = [cache.full_redraws for cache in caches(app)]
    counts = drawn(monkeypatch)

    app.annotation.undo()
    wait_idle(qtbot, app)
    canvas.viewport().repaint()
    assert app.session.point(MANY) is None
    assert [cache.full_redraws for cache in caches(app)] == redraws  # repaired in place
    assert 0 < sum(counts["markers"]) < 60  # the removed markers' neighbours, not a thousand
    assert 0 < sum(counts["lines"]) < MANY / 2  # the lines crossing the removed one

    counts["markers"].clear(), counts["lines"].clear()
    app.annotation.select(500)
    wait_idle(qtbot, app)
    canvas.viewport().repaint()
    assert [cache.full_redraws for cache in caches(app)] == redraws
    assert set(counts["markers"]) == {1} and not counts["lines"]  # the selected marker over each cache, per paint


def test_what_is_drawn_in_place_equals_a_full_redraw(make_app, qtbot, sift_matcher):
    app = with_points(make_app, qtbot, sift_matcher, 30)
    canvas = app.window.canvas
    for xy in ((420.0, 100.0), (450.0, 300.0), (480.0, 450.0), (200.0, 200.0)):
        click(canvas, SOURCE, xy)
        wait_idle(qtbot, app)
    app.annotation.select(5)  # the previously selected marker goes back into the cache's look
    wait_idle(qtbot, app)
    redraws = [cache.full_redraws for cache in caches(app)]
    steps = (
        app.annotation.undo,  # a point among the others goes
        app.annotation.redo,  # and comes back, in the middle of the drawing order
        lambda: app.annotation.select(12),
        lambda: app.annotation.nudge(9.0, -7.0),  # corrected: restyled and moved
        app.annotation.delete_selected,
        lambda: app.annotation.drop(SOURCE, 3, 300.0, 90.0),  # a source marker moved (predicted again)
    )
    for step in steps:
        step()
        wait_idle(qtbot, app)
        incremental = canvas_image(app)
        assert [cache.full_redraws for cache in caches(app)] == redraws  # nothing was redrawn whole
        for cache in caches(app):
            cache.invalidate()
        assert canvas_image(app) == incremental
        redraws = [cache.full_redraws for cache in caches(app)]


def test_a_comparison_grid_that_loses_a_view_draws_as_a_full_redraw(make_app, qtbot, sift_matcher):
    """Unticking a variant in comparison mode removes its target view while its line is cached."""
    app = make_app(sift_matcher)
    app.settings.set_variants("sift,sift:size=256,sift:size=384,sift:size=512")
    app.settings.set_compare_mode(True)
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    canvas = app.window.canvas
    canvas.viewport().repaint()
    assert len(canvas.lines.links) == 4
    app.window.compare_panel.variants.boxes[app.window.canvas.targets[3].title].setChecked(False)  # 2 x 2 -> 3
    canvas.viewport().repaint()  # before the new layout settles
    wait_idle(qtbot, app)
    incremental = canvas_image(app)
    for cache in caches(app):
        cache.invalidate()
    assert len(canvas.lines.links) == 3 and canvas_image(app) == incremental


def test_a_click_among_a_thousand_points_reads_only_the_new_point_and_sorts_nothing(
    make_app, qtbot, sift_matcher, monkeypatch
):
    """Request, redraws and autosave of a click keep what they know of the unchanged points: only
    the new point's predictions are looked at, and the sorted point list is kept, not sorted again."""
    app = with_points(make_app, qtbot, sift_matcher, MANY)
    app.annotation.select(0)  # a request once every point holds its prediction: what follows knows them
    wait_idle(qtbot, app)
    looked: list[int] = []
    sorts: list[int] = []
    prediction = Keypoint.prediction
    monkeypatch.setattr(
        Keypoint, "prediction", lambda self, run_id: (looked.append(self.id), prediction(self, run_id))[1]
    )
    monkeypatch.setattr(
        session_module, "sorted", lambda *args, **kw: (sorts.append(1), sorted(*args, **kw))[1], raising=False
    )

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    wait_idle(qtbot, app)
    app.window.canvas.viewport().repaint()

    assert app.session.point(MANY).trg_xy is not None
    assert looked and set(looked) == {MANY}
    assert not sorts
    assert [p.id for p in app.session.points()] == list(range(MANY + 1))


class PaintCount(QObject):
    """Counts the paint events of a widget."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _settled(qtbot, app) -> None:
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: not app.window.canvas.holding)
    qtbot.wait(100)  # every paint that follows from the click has happened


def test_a_click_and_its_answer_are_painted_in_one_repaint(make_app, qtbot, sift_matcher, monkeypatch):
    """Without the wait, the canvas paints the click, then the answer a few milliseconds later."""
    monkeypatch.setattr(answer_wait, "ANSWER_WAIT_MS", 10_000)  # the mechanism, not this machine's speed
    app = make_app(sift_matcher)
    app.settings.set_display(hover_preview=False)
    _settled(qtbot, app)
    paints = PaintCount(app.window.canvas.viewport())

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    _settled(qtbot, app)

    assert app.session.points()[-1].trg_xy is not None
    assert paints.count == 1
    painted = canvas_image(app)
    for cache in caches(app):
        cache.invalidate()
    assert canvas_image(app) == painted  # what was painted is the answer, as a full redraw draws it


def test_a_click_whose_answer_does_not_come_is_painted_after_the_wait(make_app, qtbot, sift_matcher, monkeypatch):
    app = make_app(sift_matcher)
    app.settings.set_display(hover_preview=False)
    _settled(qtbot, app)
    monkeypatch.setattr(app.client, "submit", lambda _request: True)  # the lane takes it, and never answers
    paints = PaintCount(app.window.canvas.viewport())

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    assert app.window.canvas.holding and paints.count == 0
    qtbot.waitUntil(lambda: paints.count == 1, timeout=answer_wait.ANSWER_WAIT_MS + 1000)
    assert not app.window.canvas.holding
    assert app.session.points()[-1].trg_xy is None  # the new source marker is on screen alone


def test_a_click_the_engine_thread_must_answer_is_painted_at_once(make_app, qtbot, sift_matcher, monkeypatch):
    """Only the lane's answers (milliseconds) are waited for: the engine thread may be busy with an
    extraction or a collection's propagation for seconds."""
    app = make_app(sift_matcher)
    app.settings.set_display(hover_preview=False)
    _settled(qtbot, app)
    monkeypatch.setattr(app.client, "submit", lambda _request: False)  # queued behind the engine's work
    paints = PaintCount(app.window.canvas.viewport())

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    assert not app.window.canvas.holding  # nothing waits for the engine thread
    qtbot.waitUntil(lambda: paints.count >= 1)


def test_kept_bounds_follow_zoom_resize_and_new_markers(make_app, qtbot, sift_matcher):
    """Markers and lines keep their bounding rectangles between mouse events; each change of what
    they depend on (the zoom, the window's size, the markers) must renew them."""
    app = make_app(sift_matcher)
    click(app.window.canvas, SOURCE, (200.0, 260.0))
    wait_idle(qtbot, app)
    source, lines = app.window.canvas.source, app.window.canvas.lines

    def fresh_lines() -> QRectF:
        rect = source.view.sceneBoundingRect()
        for view in {id(link.target_view): link.target_view for link in lines.links}.values():
            rect = rect.united(view.sceneBoundingRect())
        return rect

    before = source.view.markers.boundingRect()
    source.zoom_to((200.0, 260.0), 20.0)
    qtbot.waitUntil(lambda: source.view.markers.boundingRect() != before)
    assert source.view.markers.boundingRect() == source.view.markers._bounds_now()
    click(app.window.canvas, SOURCE, (205.0, 262.0))
    wait_idle(qtbot, app)
    assert source.view.markers.boundingRect() == source.view.markers._bounds_now()
    app.window.resize(app.window.width() - 200, app.window.height() - 100)
    qtbot.waitUntil(lambda: lines.boundingRect() == fresh_lines())
    assert source.view.markers.boundingRect() == source.view.markers._bounds_now()


def test_the_panels_and_the_autosave_follow_the_frame_that_shows_a_click(make_app, qtbot, sift_matcher, monkeypatch):
    """The images' frame is painted first; the points table, the status texts and the autosave come
    after it (controller/next_frame.py), and then show and hold the click."""
    app = make_app(sift_matcher)
    app.settings.set_display(hover_preview=False)
    _settled(qtbot, app)
    order: list[str] = []
    paints = PaintCount(app.window.canvas.viewport())
    render_panels, submit = app.presenter.render_panels, app.files.writer.submit
    monkeypatch.setattr(
        app.presenter,
        "render_panels",
        lambda session: (order.append(f"panels after {paints.count} paint(s)"), render_panels(session)),
    )
    monkeypatch.setattr(
        app.files.writer,
        "submit",
        lambda path, data: (order.append(f"save after {paints.count} paint(s)"), submit(path, data)),
    )

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    _settled(qtbot, app)

    assert order == ["panels after 1 paint(s)", "save after 1 paint(s)"]
    point = app.session.points()[-1]
    table = app.window.points_table
    assert table.rowCount() == 1 and table.item(0, 0).text() == str(point.number)
    assert app.files.writer.flush(timeout=5)
    saved = load_session(app.files.recovery_path).points()
    assert [(p.id, p.trg_xy) for p in saved] == [(point.id, point.trg_xy)]


def test_a_click_still_waiting_for_its_answer_is_saved_when_the_window_closes(
    make_app, qtbot, sift_matcher, monkeypatch
):
    app = make_app(sift_matcher)
    app.settings.set_display(hover_preview=False)
    _settled(qtbot, app)
    app.files.autosave()  # nothing else is left to save when the window closes
    monkeypatch.setattr(app.client, "submit", lambda _request: True)  # the lane takes it, and never answers

    click(app.window.canvas, SOURCE, (450.0, 300.0))
    assert app.window.canvas.holding  # nothing drawn or saved yet
    recovery = app.files.recovery_path
    app.window.close()

    saved = load_session(recovery).points()
    assert [p.src_xy for p in saved] == [app.session.points()[-1].src_xy]
