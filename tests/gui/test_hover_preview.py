"""Live preview on hover: where the source pixel under the cursor lands, without clicking."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine import PromptSpec
from sd4match_gui.controller.hover_preview import THROTTLE_MS
from sd4match_gui.controller.presenter import variant_colour
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import DEMO_SOURCE, DEMO_TARGET
from tests.gui.conftest import SIFT, TINY_SD, wait_idle, with_features
from tests.gui.helpers import hover, pixel_tolerance

TARGET = 0


@pytest.fixture
def app(make_app, sift_matcher):
    return make_app(sift_matcher, SIFT)


@pytest.mark.parametrize("backend", ["sift", "tiny-sd"])
def test_hovering_the_source_previews_the_match_and_its_heatmap(make_app, qtbot, request, backend):
    matcher = request.getfixturevalue("sift_matcher" if backend == "sift" else "tiny_matcher")
    app = make_app(matcher, SIFT) if backend == "sift" else make_app(matcher, TINY_SD, prompt=PromptSpec("empty"))
    canvas, hovering = app.window.canvas, app.hover
    computations = app.client.worker.computations
    hover(canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(hovering.previews), timeout=5000)
    [preview] = hovering.previews.values()
    assert preview.source_xy == pytest.approx((220.0, 150.0), abs=pixel_tolerance(canvas, SOURCE))

    settings = app.session.settings
    pair = matcher.prepare(*app.current_images, settings.prompt, settings.features)
    point = np.array([preview.source_xy])
    expected = pair.match(point, app.session.settings.localisation)
    assert preview.xy == pytest.approx(tuple(expected.match_xy[0]))
    assert preview.confidence == pytest.approx(float(expected.confidence[0]))
    panel = canvas.targets[TARGET]
    assert panel.preview_xy == preview.xy and panel.heatmap.isVisible()
    np.testing.assert_allclose(panel.heatmap_scores, pair.score_maps(point)[0], atol=1e-6)
    assert f"confidence {preview.confidence:.2f}" in app.window.cursor_label.text()
    # A preview places nothing and computes no features.
    assert app.session.points() == [] and app.client.worker.computations == computations

    hover(canvas, TARGET, (100.0, 100.0))  # leaving the source ends the preview
    assert hovering.previews == {} and panel.preview_xy is None
    assert panel.heatmap_scores is None  # no point is selected: nothing to show


def test_rapid_moves_are_throttled_and_the_last_position_wins(app, qtbot):
    canvas, hovering = app.window.canvas, app.hover
    positions = [(100.0 + 8 * i, 200.0 + 3 * i) for i in range(20)]
    started = time.perf_counter()
    for xy in positions:
        hover(canvas, SOURCE, xy)
    qtbot.waitUntil(
        lambda: (
            "current" in hovering.previews
            and hovering.previews["current"].source_xy
            == pytest.approx(positions[-1], abs=pixel_tolerance(canvas, SOURCE))
        ),
        timeout=5000,
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    # The first move is sent at once, then at most one per cool-down (20 moves come 12+ ms apart).
    assert 2 <= hovering.sent <= elapsed_ms / THROTTLE_MS + 1


def test_hovering_before_the_features_exist_extracts_nothing_and_hides_the_old_preview(make_app, qtbot, gated_matcher):
    matcher, gate = gated_matcher.matcher, gated_matcher.gate  # its features at 512 px do not exist yet
    app = make_app(matcher, SIFT)
    canvas, hovering = app.window.canvas, app.hover
    hover(canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: "current" in hovering.previews, timeout=5000)

    gate.clear()
    with_features(app, size=512)  # the worker starts extracting the source at 512 px and blocks
    qtbot.waitUntil(gated_matcher.held.is_set, timeout=10000)  # its cache miss is counted by now
    misses = matcher.features.stats.misses
    hover(canvas, SOURCE, (120.0, 250.0))
    assert hovering.previews == {}  # the old answer does not stand in for the new position
    qtbot.wait(300)
    assert hovering.previews == {} and matcher.features.stats.misses == misses  # no preview extracted

    gate.set()  # the extraction ends; the hovered pixel is previewed with the new features
    qtbot.waitUntil(lambda: "current" in hovering.previews, timeout=10000)
    preview = hovering.previews["current"]
    assert preview.frame.size == 512
    assert preview.source_xy == pytest.approx((120.0, 250.0), abs=pixel_tolerance(canvas, SOURCE))


def test_comparison_mode_previews_every_variant_in_its_view_and_colour(app, qtbot):
    app.settings.set_variants("sift,sift@size=384")
    app.settings.set_compare_mode(True)
    wait_idle(qtbot, app)
    hover(app.window.canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: len(app.hover.previews) == 2, timeout=5000)
    for index, (panel, variant) in enumerate(zip(app.window.canvas.targets, ("sift", "sift@size=384"), strict=True)):
        preview = app.hover.previews[variant]
        assert panel.preview_xy == preview.xy and panel.heatmap_scores is preview.scores
        assert panel.preview.opts["pen"].color().getRgb()[:3] == variant_colour(index)
    assert app.hover.previews["sift"].frame.size != app.hover.previews["sift@size=384"].frame.size


def test_opening_another_pair_drops_the_preview(app, qtbot):
    hover(app.window.canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(app.hover.previews), timeout=5000)
    app.files.open_images(DEMO_TARGET, DEMO_SOURCE)  # the demo pair the other way round
    assert app.hover.previews == {} and app.window.canvas.targets[TARGET].preview_xy is None
    wait_idle(qtbot, app)
    hover(app.window.canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(app.hover.previews), timeout=5000)
    target = app.current_images[1]
    frame = app.hover.previews["current"].frame
    assert (frame.image_width, frame.image_height) == (target.width, target.height)


def test_preview_can_be_switched_off(app, qtbot):
    canvas, hovering = app.window.canvas, app.hover
    hover(canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(hovering.previews), timeout=5000)
    app.window.actions["toggle_preview"].setChecked(False)
    assert hovering.previews == {} and canvas.targets[TARGET].preview_xy is None
    sent = hovering.sent
    hover(canvas, SOURCE, (230.0, 160.0))
    qtbot.wait(100)
    assert hovering.sent == sent and hovering.previews == {}
    assert app.session.settings.display.hover_preview is False
