"""Live preview on hover: where the source pixel under the cursor lands, without clicking."""

from __future__ import annotations

import numpy as np
import pytest

from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.worker.messages import PreviewRequest
from tests.gui.conftest import SIFT
from tests.gui.helpers import hover, pixel_tolerance

TARGET = 0


@pytest.fixture
def app(make_app, sift_matcher):
    return make_app(sift_matcher, SIFT)


def engine_pair(app, sift_matcher):
    settings = app.session.settings
    return sift_matcher.prepare(*app.current_images, settings.prompt, settings.features)


def test_hovering_the_source_previews_the_match_and_its_heatmap(app, qtbot, sift_matcher):
    canvas, hovering = app.window.canvas, app.hover
    computations = app.client.worker.computations
    hover(canvas, SOURCE, (220.0, 150.0))
    qtbot.waitUntil(lambda: bool(hovering.previews), timeout=5000)
    [preview] = hovering.previews.values()
    assert preview.source_xy == pytest.approx((220.0, 150.0), abs=pixel_tolerance(canvas, SOURCE))

    pair = engine_pair(app, sift_matcher)
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
    for xy in positions:
        hover(canvas, SOURCE, xy)
    qtbot.waitUntil(
        lambda: (
            bool(hovering.previews)
            and next(iter(hovering.previews.values())).source_xy
            == pytest.approx(positions[-1], abs=pixel_tolerance(canvas, SOURCE))
        ),
        timeout=5000,
    )
    assert 1 <= hovering.sent < len(positions)  # 20 moves 12 ms apart, at most one preview per 30 ms


def test_a_preview_never_starts_an_extraction(app, qtbot):
    """Features the worker has not prepared (another image pair here) give no answer at all."""
    variants = tuple(app.session.settings.active_variants())
    request = PreviewRequest(10_000, "not-open", "not-open", variants, app.session.settings.localisation, (5.0, 5.0))
    with qtbot.assertNotEmitted(app.client.worker.preview, wait=300):
        app.client.preview(request)
    assert app.hover.previews == {}


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
