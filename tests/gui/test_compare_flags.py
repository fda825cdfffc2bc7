"""In comparison mode a collection's review flag ("?") marks the prediction it is about: the
primary variant's (the one the collection propagates with), not every variant's."""

from __future__ import annotations

from PySide6.QtCore import Qt

from sd4match_gui.collection_benchmark import make_images
from sd4match_gui.controller.presenter import FLAG_MARK
from tests.gui.conftest import wait_idle
from tests.gui.test_collections import label_template, open_collection, wait_propagated


def flagged_labels(panel) -> list[str]:
    return [text for text in panel.view.markers.label_texts() if text.endswith(f" {FLAG_MARK}")]


def test_the_review_flag_shows_on_the_primary_variant_only(make_app, qtbot, sift_matcher, tmp_path):
    app = make_app(sift_matcher)
    label_template(qtbot, app)
    open_collection(qtbot, app, make_images(tmp_path / "set", 2))
    wait_propagated(qtbot, app)
    dock = app.window.review_panel
    dock.max_cycle.setValue(1.0)
    dock.min_confidence.setValue(1.0)  # every unreviewed prediction is flagged
    assert len(flagged_labels(app.window.canvas.targets[0])) == len(app.session.points())
    app.settings.set_variants("sift,sift@size=384")
    qtbot.keyClick(app.window.canvas, Qt.Key.Key_C)  # comparison mode
    wait_idle(qtbot, app)
    primary, other = app.window.canvas.targets
    assert app.session.settings.compare.active
    assert len(flagged_labels(primary)) == len(app.session.points())
    assert other.view.markers.label_texts() and flagged_labels(other) == []
