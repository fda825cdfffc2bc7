"""Prefetch: the pairs ahead are computed in idle time, a click preempts that work at once, and the
next pair then opens from the cache without a UNet pass."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from sd4match_gui.controller.prefetch import pairs_ahead
from sd4match_gui.worker.messages import PrefetchRequest
from tests.conftest import random_rgb
from tests.gui.conftest import TINY_SD, wait_idle
from tests.gui.helpers import click, hover

ENSEMBLE_SD = dataclasses.replace(TINY_SD, ensemble=4)
SOURCE = -1
PAIR_CALLS = 2 * 4  # UNet calls of one new pair: two images, four members, one member per call


class CountedUnet:
    """Wraps the backend's UNet call: counts calls; those after ``free`` wait at ``gate`` while it is
    closed (``entered`` is set when one does)."""

    def __init__(self, backend, free: int) -> None:
        self.original, self.free, self.calls = backend.unet, free, 0
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()
        backend.unet = self

    def __call__(self, *args):
        self.calls += 1
        if self.calls > self.free and not self.gate.is_set():
            self.entered.set()
            assert self.gate.wait(timeout=30), "the test never opened the gate"
        return self.original(*args)


@pytest.fixture
def pair_list(tmp_path):
    """A folder of four distinct images: a pair list of three pairs."""
    for index in range(4):
        Image.fromarray(random_rgb(60, 80, 40 + index)).save(tmp_path / f"{index}.png")
    return tmp_path


@pytest.fixture
def counted(fresh_matcher):
    backend = fresh_matcher.stable_diffusion()
    backend.max_batch = 1
    unet = CountedUnet(backend, free=PAIR_CALLS)
    yield fresh_matcher, unet
    unet.gate.set()


def test_the_plan_is_the_next_two_pairs(make_app, qtbot, sift_matcher, pair_list):
    app = make_app(sift_matcher, demo=False)
    assert app.files.open_path(pair_list)
    wait_idle(qtbot, app)
    assert [p.pair_id for p in pairs_ahead(app.session)] == [p.pair_id for p in app.session.pairs[1:3]]
    plan = app.prefetch.sent[-1]
    assert plan.pairs == tuple((p.source, p.target) for p in app.session.pairs[1:3])
    sent = len(app.prefetch.sent)
    click(app.window.canvas, SOURCE, (20.0, 20.0))  # same pairs, same variants: nothing new to send
    wait_idle(qtbot, app)
    assert len(app.prefetch.sent) == sent
    app.go_to_pair(2)  # the last pair: nothing ahead
    wait_idle(qtbot, app)
    assert app.prefetch.sent[-1].pairs == ()


def test_a_click_for_the_engine_preempts_prefetch_and_the_next_pair_comes_from_the_cache(
    make_app, qtbot, counted, pair_list
):
    matcher, unet = counted
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    worker = app.client.worker
    events: list[str] = []
    worker.prefetched.connect(lambda item: events.append(f"prefetched {item.variant} {item.error}"))
    worker.result.connect(lambda answer: events.append(f"result {answer.request_id}"))
    unet.gate.clear()  # the open pair's extraction runs; the prefetch's first UNet call is held
    assert app.files.open_path(pair_list)
    wait_idle(qtbot, app)
    assert unet.entered.wait(timeout=20) and unet.calls == PAIR_CALLS + 1

    # A click the engine thread must answer (the lane answers those on prepared pairs: see
    # test_query_lane.py); here its pair is dropped from the prepared ones, as a new pair would be.
    app.client.routing.store.keep_only(set())
    click(app.window.canvas, SOURCE, (30.0, 25.0))
    clicked = app.client.latest_id
    unet.gate.set()  # the held call goes on into the UNet and stops at its first block
    qtbot.waitUntil(lambda: f"result {clicked}" in events, timeout=10000)
    # The click was answered before the prefetch finished anything: it did not wait for it.
    assert events.index(f"result {clicked}") < min(
        (i for i, e in enumerate(events) if e.startswith("prefetched")), default=len(events)
    )
    # ``events`` fills on the engine thread: the window applies the answer a moment later
    qtbot.waitUntil(lambda: app.session.points()[0].trg_xy is not None)

    # Afterwards the prefetch resumes and prepares the two pairs ahead.
    qtbot.waitUntil(lambda: sum(e.startswith("prefetched") for e in events) == 2, timeout=20000)
    assert all(e == "prefetched current " for e in events if e.startswith("prefetched")), events
    calls = unet.calls
    app.window.canvas.setFocus()
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_D)  # the next pair
    wait_idle(qtbot, app)
    assert app.session.current_index == 1
    assert unet.calls == calls  # served from the cache: no UNet pass
    name = app.session.settings.active_variants()[0].name
    assert app.model.results.states[name].text == "done"


def test_the_request_of_an_opened_pair_goes_before_a_prefetch_woken_ahead_of_it(
    make_app, qtbot, counted, pair_list, monkeypatch
):
    """A weights check running, another queued, a prefetch plan, then the request of the pair just
    opened (a start-up on a cold disk posts them so): the request is computed first. When each slot
    of the user's work cleared one flag as it began, the queued check cleared it with the request
    still queued, and the prefetch woken before the request ran its whole plan first."""
    matcher, _unet = counted
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    wait_idle(qtbot, app)
    order: list[str] = []
    app.client.worker.started.connect(lambda _id: order.append("request"), Qt.ConnectionType.DirectConnection)
    app.client.worker.prefetched.connect(lambda _item: order.append("prefetch"), Qt.ConnectionType.DirectConnection)
    inside, release = threading.Event(), threading.Event()
    check = matcher.sd_unavailable_reason

    def slow_check():
        if not release.is_set():
            inside.set()
            release.wait(timeout=30)
        return check()

    monkeypatch.setattr(matcher, "sd_unavailable_reason", slow_check)
    config = app.preferences.engine_config()
    app.client.check_weights(config)
    assert inside.wait(timeout=10)  # the engine thread is inside the first check
    app.client.check_weights(config)  # queued behind it
    images = sorted(pair_list.glob("*.png"))
    variants = tuple(app.session.settings.active_variants())
    app.client.prefetch(PrefetchRequest(((images[2], images[3]),), variants, config))
    assert app.files.open_path(pair_list)
    qtbot.waitUntil(lambda: not app.computation.idle)  # the first pair's request is posted
    release.set()
    qtbot.waitUntil(lambda: "request" in order, timeout=30000)
    assert order[0] == "request"
    wait_idle(qtbot, app, timeout=60000)


def test_cancel_stops_the_computing_ahead_until_the_next_change(make_app, qtbot, counted, pair_list):
    """Cancel during the open pair's extraction: the CPU goes quiet (before, the prefetch of the
    pairs ahead started at once); the next change plans them again."""
    matcher, unet = counted
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    prefetched: list[object] = []
    app.client.worker.prefetched.connect(prefetched.append, Qt.ConnectionType.DirectConnection)
    unet.free = 0
    unet.gate.clear()  # the open pair's first UNet call is held
    assert app.files.open_path(pair_list)
    assert unet.entered.wait(timeout=30)
    app.cancel()
    unet.gate.set()
    qtbot.waitUntil(lambda: app.computation.idle)
    calls = unet.calls
    qtbot.wait(1500)
    assert unet.calls == calls and not prefetched  # nothing computed after the cancel

    click(app.window.canvas, SOURCE, (30.0, 25.0))  # the next change: the pair, then the pairs ahead
    qtbot.waitUntil(lambda: len(prefetched) == 2, timeout=30000)
    wait_idle(qtbot, app)
    assert app.session.points()[0].trg_xy is not None


@pytest.fixture
def prefetch_held(make_app, qtbot, counted, pair_list):
    """The first pair open and answered, its prefetch held inside its first UNet call."""
    matcher, unet = counted
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    unet.gate.clear()
    assert app.files.open_path(pair_list)
    wait_idle(qtbot, app, timeout=60000)  # the engine thread runs niced: slow on a loaded machine
    assert unet.entered.wait(timeout=60) and unet.calls == PAIR_CALLS + 1
    yield app, unet
    unet.gate.set()


def test_a_click_on_the_open_pair_is_answered_while_the_prefetch_runs_on(qtbot, prefetch_held):
    app, unet = prefetch_held
    click(app.window.canvas, SOURCE, (30.0, 25.0))
    # Answered and drawn while the engine thread is still inside the prefetch's UNet call.
    qtbot.waitUntil(lambda: app.computation.idle and app.session.points()[0].trg_xy is not None, timeout=5000)
    assert not unet.gate.is_set() and not app.client.worker.foreground.waiting
    unet.gate.set()
    # Nothing was stopped or redone: the two new images ahead cost their 2 x 4 UNet calls once.
    qtbot.waitUntil(lambda: unet.calls == 2 * PAIR_CALLS, timeout=20000)
    qtbot.wait(200)
    assert unet.calls == 2 * PAIR_CALLS


def test_a_hover_does_not_stop_the_prefetch(qtbot, prefetch_held):
    app, unet = prefetch_held
    hover(app.window.canvas, SOURCE, (40.0, 30.0))
    qtbot.waitUntil(lambda: "current" in app.hover.previews, timeout=5000)
    assert not unet.gate.is_set() and not app.client.worker.foreground.waiting
    unet.gate.set()
    qtbot.waitUntil(lambda: unet.calls == 2 * PAIR_CALLS, timeout=20000)
    qtbot.wait(200)
    assert unet.calls == 2 * PAIR_CALLS


def test_cancel_while_only_the_prefetch_runs_stops_it_within_a_layer(qtbot, prefetch_held):
    app, unet = prefetch_held
    prefetched: list[object] = []
    app.client.worker.prefetched.connect(prefetched.append, Qt.ConnectionType.DirectConnection)
    app.cancel()  # the empty plan stops the running one
    unet.gate.set()
    qtbot.wait(1500)
    assert unet.calls == PAIR_CALLS + 1 and not prefetched
