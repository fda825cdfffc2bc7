"""The engine thread: coalescing of piled-up clicks, stale answers, errors, cancellation."""

from __future__ import annotations

import threading

from engine.errors import PromptError
from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.worker import query_worker
from tests.gui.conftest import SIFT, TINY_SD, wait_idle
from tests.gui.helpers import click

CLICKS = [(60.0 + 25 * i, 80.0 + 18 * i) for i in range(16)]


class Gate:
    """Replaces ``matcher.prepare`` so that the engine thread blocks inside it until opened."""

    def __init__(self, monkeypatch, matcher, armed: bool = True) -> None:
        self.original = matcher.prepare
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.armed = armed
        monkeypatch.setattr(matcher, "prepare", self.prepare)

    def prepare(self, source, target, prompt, settings, progress, on_partial=None):
        if self.armed:
            self.armed = False
            self.entered.set()
            self.opened.wait(timeout=30)
            progress("gate", 0.0)  # a stage boundary: where a pending cancel takes effect
        return self.original(source, target, prompt, settings, progress, on_partial)


class LaneGate:
    """Makes the query lane's next answer to a click block until opened: a click on a prepared pair,
    held still on the lane that answers it."""

    def __init__(self, monkeypatch) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.armed = True
        original = query_worker.variant_result

        def variant_result(*args):
            if self.armed:
                self.armed = False
                self.entered.set()
                self.opened.wait(timeout=30)
            return original(*args)

        monkeypatch.setattr(query_worker, "variant_result", variant_result)


def test_piled_up_clicks_compute_only_the_newest(make_app, qtbot, sift_matcher, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    worker, computation = app.client.worker, app.computation
    computations, applied = worker.computations, computation.applied
    gate = LaneGate(monkeypatch)  # the demo pair is prepared: the lane answers its clicks
    shown: list[int] = []  # target markers drawn at every redraw caused by an answer
    app.model.results.answered.connect(
        lambda _variant: shown.append(len(app.window.canvas.targets[0].view.markers.markers))
    )

    click(app.window.canvas, SOURCE, CLICKS[0])
    assert gate.entered.wait(timeout=10)  # the worker is now busy with the first click
    for xy in CLICKS[1:]:
        click(app.window.canvas, SOURCE, xy)
    gate.opened.set()
    wait_idle(qtbot, app)

    # The blocked request and the newest one ran; the 14 in between were overwritten unseen.
    assert worker.computations - computations == 2
    assert computation.applied - applied == 1 and computation.dropped >= 1
    assert shown == [len(CLICKS)]  # the only answer drawn is the newest, covering every point
    assert all(p.trg_xy is not None for p in app.session.points())


def test_engine_errors_become_messages_and_the_next_click_works(make_app, qtbot, sift_matcher, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    original = sift_matcher.prepare
    failures = iter([RuntimeError("boom"), PromptError("the prompt file is missing")])

    def failing(*args):
        error = next(failures, None)
        if error is not None:
            raise error
        return original(*args)

    monkeypatch.setattr(sift_matcher, "prepare", failing)
    app.client.routing.store.keep_only(set())  # nothing prepared: the clicks go to the engine thread
    banner = app.window.message_banner
    click(app.window.canvas, SOURCE, (100.0, 100.0))
    wait_idle(qtbot, app)
    assert "internal error (RuntimeError: boom)" in banner.text
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    assert banner.text == "the prompt file is missing"
    click(app.window.canvas, SOURCE, (300.0, 300.0))
    wait_idle(qtbot, app)
    assert all(p.trg_xy is not None for p in app.session.points())
    assert app.client.worker.thread().isRunning()


def test_cancel_stops_at_the_next_stage_and_work_resumes(make_app, qtbot, fresh_matcher, monkeypatch):
    app = make_app(fresh_matcher, TINY_SD, demo=False)
    gate = Gate(monkeypatch, fresh_matcher)
    app.open_demo()
    assert gate.entered.wait(timeout=10)
    app.window.actions["cancel"].trigger()
    gate.opened.set()
    qtbot.waitUntil(lambda: app.model.results.states["current"].text == "cancelled", timeout=10000)
    assert fresh_matcher.features.stats.misses == 0  # stopped before any extraction
    assert not app.window.message_banner.text  # a cancel is not an error

    click(app.window.canvas, SOURCE, (256.0, 256.0))
    wait_idle(qtbot, app)
    assert app.session.point(0).trg_xy is not None
    assert app.model.results.states["current"].text == "done"


def test_progress_names_the_stages(make_app, qtbot, fresh_matcher):
    app = make_app(fresh_matcher, TINY_SD, demo=False)
    stages: list[str] = []
    app.computation.progress.connect(lambda report: stages.append(report.stage))
    app.open_demo()
    wait_idle(qtbot, app)
    assert stages[0] == "loading Stable Diffusion"
    assert {"prompt", "source: VAE latent", "target: VAE latent"} <= set(stages)
    assert any(stage.startswith("source: UNet t=") for stage in stages)
    assert not app.window.progress.isVisible()
