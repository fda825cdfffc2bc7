"""What a wait shows: one bar for the whole job that keeps moving after a click, stale results
marked as stale, engine errors cleared once fixed, status texts that never shift the window, and a
Cancel that stops the engine inside the UNet call it is in."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from PySide6.QtCore import Qt

from engine import PromptSpec
from sd4match_gui.worker.job_progress import JobProgress, StepTimes, sentence, variant_steps
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import TINY_SD, wait_idle, with_features
from tests.gui.helpers import click

ENSEMBLE_SD = dataclasses.replace(TINY_SD, ensemble=4)
SOURCE = -1  # the source panel, for tests.gui.helpers.click


class HeldUnet:
    """Wraps a loaded backend's UNet call: counts calls, and holds each one at a gate while it is
    closed (``entered`` is set when a call waits there)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.original = backend.unet
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls = 0
        backend.unet = self

    def __call__(self, *args):
        self.calls += 1
        if not self.gate.is_set():
            self.entered.set()
        assert self.gate.wait(timeout=30), "the test never opened the gate"
        return self.original(*args)


@pytest.fixture
def held_sd(fresh_matcher):
    """A fresh tiny-SD matcher (one ensemble member per UNet call) whose UNet calls can be held."""
    backend = fresh_matcher.stable_diffusion()
    backend.max_batch = 1
    held = HeldUnet(backend)
    yield fresh_matcher, held
    held.gate.set()


def recorded_reports(controller) -> list:
    reports: list = []
    controller.computation.progress.connect(reports.append)
    return reports


def test_click_during_extraction_keeps_the_bar_moving(qtbot, make_app, held_sd):
    matcher, held = held_sd
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    reports = recorded_reports(app)
    held.gate.clear()
    app.open_demo()
    assert held.entered.wait(timeout=20)
    qtbot.waitUntil(lambda: any("UNet" in r.stage for r in reports), timeout=10000)
    opened_id = app.computation._client.latest_id
    click(app.window.canvas, SOURCE, (200.0, 170.0))  # a new request, which needs the running extraction
    clicked_id = app.computation._client.latest_id
    assert clicked_id > opened_id
    held.gate.set()
    wait_idle(qtbot, app)
    after = [r for r in reports if r.request_id == clicked_id]
    # The extraction the click waits for reports under the click's id, to the end of the target.
    assert any(r.stage.startswith("target: UNet") for r in after)
    assert after[-1].fraction == 1.0


def test_one_bar_for_the_whole_job_in_words(qtbot, make_app, held_sd):
    matcher, _held = held_sd
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    reports = recorded_reports(app)
    app.open_demo()
    wait_idle(qtbot, app)
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len({round(f, 3) for f in fractions}) >= 8  # steps of both images, not per-image restarts
    texts = [r.text for r in reports]
    assert "Preparing image 2 of 2 (Stable Diffusion, member 4/4)" in " ".join(texts)
    assert not any("UNet" in text or "VAE" in text for text in texts)


def test_one_member_still_moves_the_bar(qtbot, make_app, fresh_matcher):
    app = make_app(fresh_matcher, TINY_SD, demo=False)
    reports = recorded_reports(app)
    app.open_demo()
    wait_idle(qtbot, app)
    # Not stuck at 0 % until the answer: every step of both images moves it.
    assert len({r.fraction for r in reports if 0.0 < r.fraction < 1.0}) >= 3


def test_time_left_comes_from_measured_steps():
    now = [0.0]
    times = StepTimes()
    job = JobProgress(["sd"], times, clock=lambda: now[0])
    # The prompt, then the images in turns: source VAE + UNet call, target VAE + UNet call, source
    # UNet call, target UNet call.
    job.plan(0, variant_steps(ENSEMBLE_SD, max_batch=2))
    seconds = {"prompt": 0.5, "source: VAE latent": 3.0, "target: VAE latent": 3.0, "source: UNet t=261": 10.0}
    for stage in ("prompt", "source: VAE latent", "source: UNet t=261", "target: VAE latent"):
        report = job.on_stage(0, stage)
        now[0] += seconds[stage]
    report = job.on_stage(0, "target: UNet t=261")
    assert report.remaining_s == pytest.approx(3 * 10.0)
    assert report.fraction == pytest.approx((0.5 + 3 + 10 + 3) / (0.5 + 2 * 23))
    assert sentence(report) == "Preparing image 2 of 2 (Stable Diffusion, member 1/4) — about 30 s left"
    # A second job starts from what the first measured.
    second = JobProgress(["sd"], times, clock=lambda: now[0])
    second.plan(0, variant_steps(ENSEMBLE_SD, max_batch=2))
    assert second.on_stage(0, "prompt").remaining_s == pytest.approx(0.5 + 2 * 23)


def test_recompute_and_cancel_mark_results_stale(qtbot, make_app, held_sd):
    matcher, held = held_sd
    app = make_app(matcher, TINY_SD)
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    wait_idle(qtbot, app)
    target = app.window.canvas.targets[0]
    assert not target.stale and "stale" not in target.title
    held.gate.clear()
    with_features(app, timestep=100)  # a recompute
    assert held.entered.wait(timeout=20)
    qtbot.waitUntil(lambda: target.stale and "stale" in target.title, timeout=5000)
    assert "stale" in app.window.selection_label.text()
    held.gate.set()
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: not target.stale and "stale" not in target.title, timeout=5000)
    held.entered.clear()
    held.gate.clear()
    with_features(app, timestep=150)
    assert held.entered.wait(timeout=20)
    app.computation.cancel()
    held.gate.set()
    wait_idle(qtbot, app)
    qtbot.wait(100)
    assert target.stale and "stale" in target.title  # cancelled: the old results stay marked


def test_engine_error_banner_goes_once_fixed_and_on_a_new_pair(qtbot, make_app, fresh_matcher):
    app = make_app(fresh_matcher, TINY_SD)
    banner = app.window.message_banner
    unfilled = PromptSpec("text")  # the template needs a category the demo pair lacks
    app.settings.set_engine(unfilled, TINY_SD)
    wait_idle(qtbot, app)
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    app.settings.set_engine(PromptSpec("text", text="a photo of a person"), TINY_SD)
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
    app.settings.set_engine(unfilled, TINY_SD)
    wait_idle(qtbot, app)
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    app.files.open_images(DEMO_TARGET, DEMO_SOURCE)  # a new pair
    assert not banner.isVisible()


def test_status_texts_never_move_the_images_or_each_other(qtbot, make_app, sift_matcher):
    app = make_app(sift_matcher)
    window = app.window
    window.progress.show_stage("Preparing the prompt", 0.1)
    window.cursor_label.setText("source x 1.0  y 2.0 px")  # on an image (off them the reading hides)
    qtbot.wait(50)

    def geometry():
        widgets = (window.canvas, window.progress, window.progress.bar, window.cursor_label, window.backend_label)
        return [w.geometry() for w in widgets]

    before = geometry()
    long = "Preparing image 1 of 2 (Stable Diffusion, member 3/8) — about 1 min 40 s left " * 2
    window.progress.show_stage(long, 0.5)
    window.selection_label.setText("point 12 “left eye” · confidence 0.93 · predicted · visible " * 3)
    window.cursor_label.setText("source x 1234.5  y 999.5 px → target x 1234.5  y 999.5 · confidence 0.93")
    qtbot.wait(50)
    assert geometry() == before
    assert window.progress.stage.toolTip() == long


def test_a_cut_progress_text_keeps_the_time_left(qtbot, make_app, sift_matcher):
    app = make_app(sift_matcher)
    app.window.resize(800, 500)
    text = "ensemble 5/8 shown · Preparing image 1 of 2 (Stable Diffusion, member 6/8) — about 1 min 40 s left"
    app.window.progress.show_stage(text, 0.5)
    stage = app.window.progress.stage
    qtbot.waitUntil(lambda: stage.elided)
    assert stage.shown_text.startswith("ensemble 5/8") and stage.shown_text.endswith("40 s left")


def test_cancel_stops_inside_the_running_unet_call(qtbot, make_app, held_sd):
    matcher, held = held_sd
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    blocks_after_cancel = []
    cancelled = threading.Event()
    hook = held.backend.parts.unet.up_blocks[0].register_forward_hook(
        lambda *_: blocks_after_cancel.append(1) if cancelled.is_set() else None
    )
    try:
        held.gate.clear()
        app.open_demo()
        assert held.entered.wait(timeout=20)
        qtbot.waitUntil(app.window.progress.isVisible, timeout=5000)
        calls = held.calls
        finished = []
        app.computation._client.worker.finished.connect(finished.append)
        qtbot.mouseClick(app.window.progress.cancel, Qt.MouseButton.LeftButton)
        cancelled.set()
        held.gate.set()  # the held call goes on into the UNet, which must stop at its next block
        qtbot.waitUntil(lambda: bool(finished), timeout=10000)
        assert held.calls == calls and blocks_after_cancel == []
    finally:
        hook.remove()
