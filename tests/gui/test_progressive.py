"""The progressive ensemble in the app: partial answers refine the drawn prediction, the status says
"ensemble k/E", the final one is the plain engine's bit for bit, and partials of an older request
are dropped like any stale answer."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine import Matcher, PromptSpec
from engine.frames import GridFrame
from engine.prepared_pair import MatchResult
from sd4match_gui.model.session_file import load_session
from sd4match_gui.worker.engine_worker import single_threaded_torch
from sd4match_gui.worker.messages import VariantResult
from tests.gui.conftest import TINY_SD, wait_idle
from tests.gui.helpers import click
from tests.gui.test_prefetch import CountedUnet
from tests.gui.test_waits import held_sd  # noqa: F401 (fixture)

ENSEMBLE_SD = dataclasses.replace(TINY_SD, ensemble=4)
SOURCE = -1


def drawn_target(app) -> tuple[float, float] | None:
    """Where the first target view draws point 1 (after the pending redraw)."""
    app.presenter.render(app.session)
    markers = app.window.canvas.targets[0].view.markers.markers
    return next((m.xy for m in markers if m.key == 0 and m.style != "reference"), None)


def partial_answer(app, xy: tuple[float, float]) -> VariantResult:
    """A partial answer (ensemble 1/4) to the newest request, predicting every asked point at ``xy``
    under the run the primary variant's points hold."""
    name = app.session.settings.active_variants()[0].name
    run_id = app.model.results.variant_runs[name]
    details = dict(app.session.runs.items())[run_id]
    count = len(app.computation._asked.point_ids)
    matches = MatchResult(np.zeros((count, 2)), np.tile(xy, (count, 1)), np.full(count, 0.5), np.zeros((count, 2)))
    return VariantResult(app.client.latest_id, name, details, matches, None, GridFrame(512, 512, 256, 16, 16), (1, 4))


def test_partial_answers_refine_to_the_plain_result(qtbot, make_app, held_sd):  # noqa: F811
    matcher, held = held_sd  # one member per UNet call: partial answers after members 1, 2 and 3
    app = make_app(matcher, ENSEMBLE_SD, demo=False)
    answers: list[VariantResult] = []
    app.client.worker.result.connect(answers.append)
    reports: list = []
    app.computation.progress.connect(reports.append)
    held.gate.clear()
    app.open_demo()
    assert held.entered.wait(timeout=20)
    click(app.window.canvas, SOURCE, (200.0, 170.0))  # during the extraction: its partials answer the click
    clicked_id = app.client.latest_id
    drawn: list[tuple[float, float] | None] = []
    app.model.results.answered.connect(lambda _variant: drawn.append(drawn_target(app)))
    held.gate.set()
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: any(a.request_id == clicked_id and not a.partial for a in answers), timeout=10000)
    # ``answers`` fills on the engine thread: wait until the window has applied the final answer too
    name = app.session.settings.active_variants()[0].name
    qtbot.waitUntil(lambda: app.model.results.states[name].text == "done" and not app.model.results.partial)

    mine = [a for a in answers if a.request_id == clicked_id]
    assert [a.ensemble for a in mine] == [(1, 4), (2, 4), (3, 4), None]
    assert any("ensemble 2/4 shown" in r.text for r in reports if r.request_id == clicked_id)
    assert len(set(drawn)) >= 2  # the drawn target moved as members arrived
    # The final prediction is the plain (non-progressive) engine's, tolerance 0.
    point = app.session.points()[0]
    plain = Matcher(matcher.sources, runtime=matcher.runtime, max_batch=1)
    images = app.current_images
    prepared = plain.prepare(*images, app.session.settings.prompt, ENSEMBLE_SD)
    with single_threaded_torch():  # as the engine thread matches: CPU kernels split their sums by thread
        expected = prepared.match(np.array([point.src_xy]))
    assert point.trg_xy == (float(expected.match_xy[0, 0]), float(expected.match_xy[0, 1]))


def test_partials_of_an_older_request_are_dropped(qtbot, make_app, held_sd):  # noqa: F811
    matcher, _held = held_sd
    app = make_app(matcher, ENSEMBLE_SD)
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    wait_idle(qtbot, app)
    before = app.session.points()[0]
    dropped, applied = app.computation.dropped, app.computation.applied
    name = app.session.settings.active_variants()[0].name
    frame = GridFrame(512, 512, 256, 16, 16)
    stale = MatchResult(np.zeros((1, 2)), np.full((1, 2), 7.0), np.ones(1), np.zeros((1, 2)))
    app.client.worker.result.emit(VariantResult(app.client.latest_id - 1, name, {}, stale, None, frame, (1, 4)))
    qtbot.waitUntil(lambda: app.computation.dropped == dropped + 1, timeout=5000)
    assert app.computation.applied == applied and app.session.points()[0] == before


def test_comparison_mode_refines_every_variant(qtbot, make_app, held_sd):  # noqa: F811
    matcher, _held = held_sd
    app = make_app(matcher, ENSEMBLE_SD, prompt=PromptSpec("empty"))
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    wait_idle(qtbot, app)
    answers: list[VariantResult] = []
    app.client.worker.result.connect(answers.append)
    app.settings.set_variants("empty@t=100,text:a photo of a person")
    app.settings.set_compare_mode(True)
    wait_idle(qtbot, app)
    qtbot.waitUntil(lambda: sum(not a.partial for a in answers if a.request_id == app.client.latest_id) == 2)
    latest = [(a.variant, a.ensemble) for a in answers if a.request_id == app.client.latest_id]
    for name in ("empty@t=100", "text:a photo of a person"):
        assert [e for v, e in latest if v == name] == [(1, 4), (2, 4), (3, 4), None]
    runs = app.model.results.variant_runs
    assert all(app.session.point(0).prediction(runs[name]) is not None for name in runs)


def test_a_session_autosaved_mid_refinement_reopens_without_the_partial_prediction(
    qtbot,
    make_app,
    held_sd,  # noqa: F811
    tmp_path,
):
    """Partial answers are drawn but never stored in the points: a session written while a variant
    refines (autosave, or the app killed) reopens with the last final prediction, never the partial one."""
    matcher, _held = held_sd
    app = make_app(matcher, ENSEMBLE_SD)
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    wait_idle(qtbot, app)
    assert app.files.save_session(tmp_path / "session.json")
    final = app.session.points()[0]
    name = app.session.settings.active_variants()[0].name
    run_id = app.model.results.variant_runs[name]
    assert final.prediction(run_id) is not None and final.trg_xy == final.prediction(run_id).xy

    app.client.worker.result.emit(partial_answer(app, (7.0, 7.0)))  # a refinement under the same run
    qtbot.waitUntil(lambda: name in app.model.results.partial, timeout=5000)
    assert drawn_target(app) == (7.0, 7.0)  # drawn at once
    app.files.autosave()
    assert app.files.writer.flush()

    reopened = load_session(tmp_path / "session.json").points(app.session.pair.pair_id)[0]
    assert reopened.prediction(run_id) == final.prediction(run_id)
    assert reopened.trg_xy == final.trg_xy != (7.0, 7.0)
    assert app.session.points()[0] is final  # the point itself never held the partial prediction


def test_a_cancel_mid_refinement_leaves_the_drawn_prediction_marked_as_part_of_the_ensemble(
    qtbot,
    make_app,
    fresh_matcher,
):
    """After Cancel the status bar's "ensemble k/E shown" goes with the progress bar; the target's
    title keeps saying that the drawn prediction is the mean of k members, not the final one."""
    backend = fresh_matcher.stable_diffusion()
    backend.max_batch = 1
    unet = CountedUnet(backend, free=2)  # member 1 of both images: the first partial answer is sent
    app = make_app(fresh_matcher, ENSEMBLE_SD, demo=False)
    unet.gate.clear()
    app.open_demo()
    click(app.window.canvas, SOURCE, (200.0, 170.0))
    name = app.session.settings.active_variants()[0].name
    qtbot.waitUntil(lambda: name in app.model.results.partial, timeout=20000)
    assert "ensemble 1/4" in app.window.canvas.targets[0].title
    app.cancel()
    unet.gate.set()
    wait_idle(qtbot, app)
    title = app.window.canvas.targets[0].title
    assert "ensemble 1/4" in title and title.endswith("cancelled"), title
    assert not app.window.progress.isVisible()
