"""Tuning a prompt on the session's points from the app: progress, loss curve, cancel and resume,
errors, and the tuned prompt as a new variant to compare (tiny random Stable Diffusion)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from engine import Matcher, ModelSources, PromptSpec, resolve_runtime
from engine.prompts.library import PromptLibrary
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import write_prompt_library
from tests.gui.conftest import TINY_SD, wait_idle
from tests.gui.helpers import click

TARGET = 0
POINTS = ((150.0, 160.0), (260.0, 240.0), (330.0, 380.0))


@pytest.fixture
def library(tmp_path):
    """A prompt library of this test's own: tuning writes into it."""
    return write_prompt_library(tmp_path / "prompts")


@pytest.fixture
def app(make_app, qtbot, tiny_sd_dir, tiny_dinov2_dir, library):
    sources = ModelSources(sd=str(tiny_sd_dir), dinov2=str(tiny_dinov2_dir), prompts=str(library))
    matcher = Matcher(sources, runtime=resolve_runtime("cpu", "float32"))
    app = make_app(matcher, TINY_SD, prompt=PromptSpec("empty"))
    app.settings.set_variants("empty")  # the stock prompt the tuned one is compared with
    return app


def annotate(app, qtbot) -> None:
    """Three points: two corrected, one accepted."""
    for xy in POINTS:
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    app.annotation.drop(TARGET, 0, 200.0, 210.0)
    app.annotation.drop(TARGET, 1, 300.0, 260.0)
    app.annotation.select(2)
    app.annotation.set_status("accepted")
    wait_idle(qtbot, app)


def open_dialog(app, name: str, epochs: int, variant: str = "single"):
    app.window.actions["tune_prompt"].trigger()
    dialog = app.tuning.dialog
    assert dialog.isVisible()
    dialog.variant.setCurrentText(variant)
    dialog.name.setText(name)
    dialog.epochs.setValue(epochs)
    dialog.batch.setValue(1)
    return dialog


def wait_done(qtbot, app) -> None:
    qtbot.waitUntil(lambda: app.tuning.outcome is not None, timeout=60000)


def test_tuned_prompt_becomes_a_variant_that_predicts(app, qtbot, library):
    annotate(app, qtbot)
    dialog = open_dialog(app, "mine", epochs=2)
    assert dialog.data.text().startswith("Learns from 3 accepted or corrected point(s) in 1 pair(s)")
    dialog.start.click()
    assert not dialog.start.isEnabled() and dialog.stop.isEnabled()  # settings frozen while it runs
    wait_done(qtbot, app)

    outcome = app.tuning.outcome
    assert outcome.error == "" and outcome.result.finished and outcome.result.steps_done == 2
    assert len(dialog.losses) == 2 and dialog.bar.value() == 100  # one loss point per step
    assert PromptLibrary(library).find("single", "mine").folder == "Single_mine_sd2-1_TokenEmbeds75"
    assert [v.name for v in app.session.settings.compare_variants()] == ["empty", "single/mine"]
    assert "Tuned 'single/mine'" in app.window.message_banner.text

    app.window.message_banner.action.click()  # "Compare now"
    wait_idle(qtbot, app)
    panels = app.window.canvas.targets
    assert [panel.title for panel in panels] == ["empty", "single/mine"]
    assert [m.key for m in panels[1].view.markers.markers if m.style == "predicted"] == [0, 1, 2]
    runs = app.model.results.variant_runs
    prompt = app.session.runs.details(runs["single/mine"])["prompt"]
    assert prompt["prompt_set"] == "mine" and prompt["file"].endswith("Single_mine_sd2-1_TokenEmbeds75/caption.pt")
    assert app.session.point(0).prediction(runs["single/mine"]) is not None


def test_cancel_stops_between_steps_and_resume_finishes(app, qtbot):
    annotate(app, qtbot)
    dialog = open_dialog(app, "stopped", epochs=3)
    first_step, go_on = threading.Event(), threading.Event()

    def hold_after_the_first_step(_report) -> None:  # runs on the engine thread, inside the run
        if not first_step.is_set():
            first_step.set()
            go_on.wait(timeout=30)

    app.client.worker.training_step.connect(hold_after_the_first_step, Qt.ConnectionType.DirectConnection)
    dialog.start.click()
    qtbot.waitUntil(first_step.is_set, timeout=60000)
    dialog.stop.click()
    go_on.set()
    wait_done(qtbot, app)
    result = app.tuning.outcome.result
    assert result.stopped and result.steps_done == 1 and result.total_steps == 3
    assert dialog.resume.isVisible() and "Resume continues it" in dialog.message.text()
    assert [v.name for v in app.session.settings.compare_variants()] == ["empty"]  # nothing kept yet

    dialog.resume.click()
    wait_done(qtbot, app)
    result = app.tuning.outcome.result
    assert result.finished and result.steps_done == 3
    assert [v.name for v in app.session.settings.compare_variants()] == ["empty", "single/stopped"]


def test_data_errors_are_messages_and_the_app_keeps_working(app, qtbot):
    dialog = open_dialog(app, "nothing", epochs=1)
    dialog.start.click()
    assert dialog.message.text().startswith("No accepted or corrected points")  # checked before the engine
    dialog.close()

    annotate(app, qtbot)
    dialog = open_dialog(app, "classy", epochs=1, variant="class")
    dialog.start.click()
    wait_done(qtbot, app)  # the demo pair has no category, so no class prompt can be learned
    error = "pair 'astronaut-grace_hopper' has no category; class prompts need one per pair"
    assert app.tuning.outcome.error == error and dialog.message.text() == error
    assert dialog.start.isEnabled() and not dialog.resume.isVisible()
    dialog.close()
    assert not dialog.isVisible()

    click(app.window.canvas, SOURCE, (420.0, 100.0))
    wait_idle(qtbot, app)
    assert app.session.point(3).trg_xy is not None and app.client.worker.thread().isRunning()
