"""Screenshots of the real window for the README: docs/screenshots/main-window.png and comparison.png.

The demo pair on the weights-free SIFT backend (the app as a fresh install shows it), with facial
keypoints of the astronaut matched onto Grace Hopper, one of them corrected by hand.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtGui import QImage

from engine import FeatureSettings
from sd4match_gui.views.pair_canvas import SOURCE
from tests.conftest import REPO
from tests.gui.conftest import wait_idle
from tests.gui.helpers import click

SCREENSHOTS = REPO / "docs" / "screenshots"
SIZE = (1600, 900)
FACE = {  # astronaut.jpg pixel -> what it is
    (200.0, 103.0): "left eye",
    (243.0, 103.0): "right eye",
    (222.0, 124.0): "nose",
    (222.0, 143.0): "mouth",
    (222.0, 166.0): "chin",
    (305.0, 355.0): "name badge",
}
CORRECTIONS = {0: (220.0, 195.0), 4: (265.0, 320.0)}  # where SIFT missed: the true spots on grace_hopper.jpg
SELECTED = 2  # the nose: its heatmap is shown
FEATURES = FeatureSettings(backend="sift", size=640)


def shoot(app, name: str) -> QImage:
    app.window.resize(*SIZE)
    app.window.canvas.fit_all()
    image = app.window.grab().toImage()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert image.save(str(SCREENSHOTS / name))
    return image


def annotate_face(app, qtbot) -> None:
    for xy, label in FACE.items():
        click(app.window.canvas, SOURCE, xy)
        app.annotation.set_label(app.session.selected, label)
    wait_idle(qtbot, app)
    for point_id, xy in CORRECTIONS.items():
        app.annotation.select(point_id)
        click(app.window.canvas, 0, xy)
    app.annotation.select(SELECTED)
    wait_idle(qtbot, app)


def test_main_window_screenshot(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, FEATURES)
    annotate_face(app, qtbot)
    assert app.window.canvas.targets[0].heatmap.isVisible()
    assert len(app.window.canvas.targets[0].view.markers.markers) == len(FACE)
    image = shoot(app, "main-window.png")
    assert (image.width(), image.height()) == SIZE


def test_comparison_screenshot(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, FEATURES)
    app.settings.set_variants("sift@size=384,sift@size=512,sift@size=640,sift@size=768")
    app.settings.set_compare_mode(True)
    annotate_face(app, qtbot)
    panels = app.window.canvas.targets
    assert len(panels) == 4 and all(panel.heatmap.isVisible() for panel in panels)
    settings = app.session.settings
    assert dataclasses.replace(settings.display).lines_visible
    image = shoot(app, "comparison.png")
    assert (image.width(), image.height()) == SIZE
