"""Comparison mode: one view per variant, the spread table, lazy cached variants, ground truth."""

from __future__ import annotations

import math
import threading
from itertools import combinations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine import FeatureSettings, Matcher, ModelSources, PromptSpec
from engine.variants import parse_variants
from sd4match_gui.model.settings import TunedPrompt
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import TEST_SIZE
from tests.gui.conftest import SIFT, TINY_SD, wait_idle, wait_loaded
from tests.gui.helpers import click

VARIANTS = "empty,single,class:cat,text:a photo of a person,sift"
POINTS = ((140.0, 160.0), (260.0, 240.0), (330.0, 380.0))


@pytest.fixture
def comparing(make_app, qtbot, tiny_matcher):
    app = make_app(tiny_matcher, TINY_SD, prompt=PromptSpec("empty", category="cat"))
    app.settings.set_variants(VARIANTS)
    app.settings.set_compare_mode(True)
    for xy in POINTS:
        click(app.window.canvas, SOURCE, xy)
    wait_idle(qtbot, app)
    return app


def test_one_view_per_variant(comparing):
    canvas = comparing.window.canvas
    names = [v.name for v in parse_variants(VARIANTS, PromptSpec(), TINY_SD)]
    assert len(canvas.targets) == len(names)
    assert [panel.title for panel in canvas.targets] == names
    colours = set()
    for panel in canvas.targets:
        markers = panel.view.markers.markers
        assert [m.key for m in markers] == [0, 1, 2]
        colours.add(markers[0].colour)
        assert panel.heatmap.isVisible()  # the selected point's map under this variant
    assert len(colours) == len(names)  # each variant has its own marker colour
    # The variants really differ: the learned prompt and SIFT do not predict the same points.
    runs = comparing.model.results.variant_runs
    assert (
        comparing.session.point(0).prediction(runs["single"]).xy
        != comparing.session.point(0).prediction(runs["sift"]).xy
    )
    assert comparing.window.compare_panel.table.rowCount() == 3
    # Titles of different lengths do not make tiles of different sizes.
    assert len({(round(p.view.width()), round(p.view.height())) for p in canvas.targets}) == 1


def test_spread_column_equals_a_hand_computation(comparing, tiny_matcher):
    app = comparing
    source, target = app.current_images
    variants = parse_variants(VARIANTS, app.session.settings.prompt, app.session.settings.features)
    src = np.array([p.src_xy for p in app.session.points()])
    predictions = [
        tiny_matcher.prepare(source, target, v.prompt, v.settings).match(src, app.session.settings.localisation)
        for v in variants
    ]
    hand = []
    for row in range(len(src)):
        xy = [tuple(p.match_xy[row]) for p in predictions]
        hand.append(max(math.dist(a, b) for a, b in combinations(xy, 2)))
    table = app.window.compare_panel.table
    table.sortItems(0)  # by point number
    assert table.column_values("spread px") == pytest.approx([round(v, 4) for v in hand], abs=1e-4)
    assert table.column_values("spread %") == pytest.approx([round(100 * v / 600, 4) for v in hand], abs=1e-4)
    table.sortItems(table.columns.index("spread px"))
    assert table.column_values("spread px") == sorted(table.column_values("spread px"))


def test_toggling_a_variant_reuses_the_cache(make_app, qtbot, fresh_matcher):
    app = make_app(fresh_matcher, TINY_SD, prompt=PromptSpec("empty", category="cat"))
    app.settings.set_variants("empty,single,class")
    app.settings.set_compare_mode(True)
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    stats = fresh_matcher.features.stats
    misses, hits = stats.misses, stats.hits

    app.window.compare_panel.variants.boxes["single"].setChecked(False)
    wait_idle(qtbot, app)
    assert len(app.window.canvas.targets) == 2
    app.window.compare_panel.variants.boxes["single"].setChecked(True)
    wait_idle(qtbot, app)

    assert stats.misses == misses  # no new extraction
    assert stats.hits == hits  # the three are still prepared: the query lane answered, not even a cache lookup
    assert [p.title for p in app.window.canvas.targets] == ["empty", "single", "class"]
    assert [m.key for m in app.window.canvas.targets[1].view.markers.markers] == [0]


def test_errors_and_pck_against_ground_truth(make_app, qtbot, sift_matcher, spair_root):
    app = make_app(sift_matcher, SIFT, demo=False)
    assert app.files.open_path(spair_root)
    wait_loaded(qtbot, app)
    app.settings.set_variants("sift,sift@size=384")
    app.settings.set_compare_mode(True)
    wait_idle(qtbot, app)
    points = app.session.points()
    assert [p.label for p in points] == ["3", "7", "12"]  # seeded from the dataset's keypoints and ids
    table = app.window.compare_panel.table
    table.sortItems(0)
    truth = [g.trg_xy for g in app.session.pair.ground_truth]
    run = app.model.results.variant_runs["sift"]
    hand = [round(math.dist(p.prediction(run).xy, t), 4) for p, t in zip(points, truth, strict=True)]
    assert table.column_values("error sift") == pytest.approx(hand, abs=1e-4)
    threshold = 460  # longer side of the target box [150, 100, 400, 560]
    expected = np.mean([error <= 0.1 * threshold for error in hand])
    summary = app.window.compare_panel.summary.text()
    assert (
        "over 3 reference point(s)" in summary
        and f"sift: {np.mean([e <= 0.05 * threshold for e in hand]):.2f} / {expected:.2f}" in summary
    )
    reference_markers = [m for m in app.window.canvas.targets[0].view.markers.markers if m.style == "reference"]
    assert [m.xy for m in reference_markers] == truth


def _without_weights(make_app, qtbot, tmp_path, variants: str):
    missing = Matcher(ModelSources(sd=str(tmp_path / "no-such-model")))
    app = make_app(missing, FeatureSettings(backend="auto", size=TEST_SIZE))
    qtbot.waitUntil(lambda: app.window.backend_label.text() == "backend: sift")  # the engine has said so
    app.settings.set_variants(variants)
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    return app


def _one_size(panels) -> bool:
    return len({(round(p.view.width()), round(p.view.height())) for p in panels}) == 1


def test_without_weights_comparison_offers_sift_sizes_instead_of_failed_views(make_app, qtbot, tmp_path):
    app = _without_weights(make_app, qtbot, tmp_path, "empty,text,single,class,cpm")
    window = app.window
    qtbot.keyClick(window.canvas, Qt.Key.Key_C)
    # Nothing listed could run: no failed views, one plain explanation with an offer.
    assert not app.session.settings.compare.active and not window.actions["toggle_compare"].isChecked()
    assert len(window.canvas.targets) == 1
    banner = window.message_banner
    assert banner.isVisible() and "needs the Stable Diffusion weights" in banner.text
    assert "SIFT baseline" in banner.text and "384, 512, 768" in banner.text
    assert banner.action.text() == "Compare SIFT sizes"
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, app)
    assert app.session.settings.compare.active and window.actions["toggle_compare"].isChecked()
    names = ["sift@size=384", "sift@size=512", "sift@size=768"]
    assert [panel.title for panel in window.canvas.targets] == names  # all done: no state in the titles
    assert _one_size(window.canvas.targets)
    assert all(app.model.results.states[name].text == "done" for name in names)
    predictions = {app.session.point(0).prediction(app.model.results.variant_runs[name]).xy for name in names}
    assert len(predictions) > 1  # really different inputs
    table = window.compare_panel.table
    assert "…" not in " ".join(str(value) for name in names for value in table.column_values(name))
    assert "predicting" not in window.selection_label.text()


def test_without_weights_prompt_variants_are_marked_not_faked(make_app, qtbot, tmp_path):
    app = _without_weights(make_app, qtbot, tmp_path, "empty,sift")
    window = app.window
    qtbot.keyClick(window.canvas, Qt.Key.Key_C)
    wait_idle(qtbot, app)
    assert app.session.settings.compare.active
    empty, sift = window.canvas.targets
    assert empty.title == "empty — needs SD weights" and empty.view.markers.markers == []
    assert not empty.heatmap.isVisible()
    assert [m.key for m in sift.view.markers.markers] == [0]
    assert _one_size(window.canvas.targets)
    # Said once, as information (not one red error per variant), with the offer of what runs.
    assert "empty: need the Stable Diffusion weights" in window.message_banner.text
    assert window.message_banner.action.text() == "Compare SIFT sizes"
    assert window.compare_panel.table.column_values("empty") == ["needs SD weights"]
    # The primary variant will never answer: the status bar says so instead of "predicting…".
    assert "needs SD weights" in window.selection_label.text()
    assert not window.progress.isVisible()


def test_a_tuned_prompt_can_be_taken_off_the_list(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    app.settings.set_variants("sift")
    app.settings.add_tuned(TunedPrompt("single", "mine"))
    listed = app.window.compare_panel.variants
    assert list(listed.boxes) == ["sift", "single/mine"] and list(listed.remove_buttons) == ["single/mine"]
    listed.remove_buttons["single/mine"].click()
    assert app.session.settings.compare.tuned == ()
    assert list(listed.boxes) == ["sift"] and listed.remove_buttons == {}


def test_a_variant_unticked_while_computing_does_not_wait_forever(make_app, qtbot, fresh_matcher, monkeypatch):
    gate = threading.Event()
    backend = fresh_matcher.stable_diffusion()
    extract = backend.extract

    def gated_extract(*args, **kwargs):
        assert gate.wait(timeout=30), "the test never opened the gate"
        return extract(*args, **kwargs)

    monkeypatch.setattr(backend, "extract", gated_extract)
    app = make_app(fresh_matcher, TINY_SD, prompt=PromptSpec("empty"), demo=False)
    app.settings.set_variants("empty,sift")
    app.settings.set_compare_mode(True)
    app.open_demo()  # "empty" reports its first stage, then waits at the gate
    states = app.model.results.states
    qtbot.waitUntil(lambda: "empty" in states and states["empty"].text not in ("waiting", "done"))
    qtbot.mouseClick(app.window.compare_panel.variants.boxes["empty"], Qt.MouseButton.LeftButton)
    gate.set()
    wait_idle(qtbot, app)
    assert states["sift"].text == "done"
    assert states["empty"].text == "cancelled"  # not its last stage, as if still at work
    assert app.window.compare_panel.variants.bars["empty"].format() == "cancelled"
