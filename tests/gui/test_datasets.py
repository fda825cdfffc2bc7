"""Opening benchmark datasets: read off the GUI thread, errors as messages, each dataset's PCK rule."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication

from engine.errors import DocumentError
from sd4match_gui.model import datasets
from sd4match_gui.views.pair_canvas import SOURCE
from tests.datasets.miniature import synthetic_pairs, write_pfwillow
from tests.gui.conftest import SIFT, wait_idle, wait_loaded
from tests.gui.helpers import click
from tests.gui.test_scores import error_column


@pytest.fixture
def pfwillow_root(tmp_path):
    """Two PF-Willow pairs of 10 points (one "car(G)", one "motorbike(M)"), small images."""
    return write_pfwillow(tmp_path, synthetic_pairs(images_per_category=2, points=10))


class SlowReader:
    """Replaces the app's ``open_dataset`` so that a read blocks (on a pool thread) until released."""

    def __init__(self, monkeypatch, error: Exception | None = None) -> None:
        self.original = datasets.open_dataset
        self.entered = threading.Event()
        self.released = threading.Event()
        self.error = error
        monkeypatch.setattr(datasets, "open_dataset", self.read)

    def read(self, *args):
        self.entered.set()
        assert self.released.wait(timeout=30)
        if self.error is not None:
            raise self.error
        return self.original(*args)


def test_a_slow_dataset_read_leaves_the_window_working(make_app, qtbot, sift_matcher, pfwillow_root, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    reader = SlowReader(monkeypatch)
    assert app.files.open_path(pfwillow_root)  # returns although the read has not finished
    assert reader.entered.wait(timeout=10)
    assert app.window.loading.isVisible() and app.window.loading.stage.text() == "Reading pfwillow test…"
    # The event loop runs meanwhile: the open pair still takes clicks and the engine answers them.
    click(app.window.canvas, SOURCE, (200.0, 200.0))
    wait_idle(qtbot, app)
    assert app.session.pair.source.name == "astronaut.jpg" and app.session.point(0).trg_xy is not None

    reader.released.set()
    wait_loaded(qtbot, app)
    assert not app.window.loading.isVisible()
    assert len(app.session.pairs) == 2 and app.session.dataset.kind == "pfwillow"
    assert "Opened pfwillow test: 2 pair(s)" in app.window.statusBar().currentMessage()

    # PF-Willow's own PCK rule: theta is the larger extent of the target keypoints.
    points, truth = app.session.points(), [g.trg_xy for g in app.session.pair.ground_truth]
    run = app.model.results.variant_runs["current"]
    errors = [math.dist(p.prediction(run).xy, t) for p, t in zip(points, truth, strict=True)]
    assert error_column(app) == [f"{e:.1f}" for e in errors]
    theta = float(np.ptp(np.array(truth), axis=0).max())
    pck = [np.mean([e <= alpha * theta for e in errors]) for alpha in (0.05, 0.1)]
    label = app.window.pck_label
    assert label.text() == f"PCK@0.05 / @0.1 over 10 reference point(s): current: {pck[0]:.2f} / {pck[1]:.2f}"
    rule = "the larger extent of the ground-truth target points"
    assert label.toolTip() == f"{label.text()}\ntheta = {theta:.1f} px, {rule}"


def test_an_abandoned_read_never_replaces_the_session(make_app, qtbot, sift_matcher, pfwillow_root, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    reader = SlowReader(monkeypatch)
    app.files.open_path(pfwillow_root)
    assert reader.entered.wait(timeout=10)
    app.window.loading.cancel.click()
    assert not app.window.loading.isVisible()
    reader.released.set()
    assert QThreadPool.globalInstance().waitForDone(10000)
    QApplication.processEvents()  # delivers the finished read's queued answer, which must be dropped
    assert app.session.dataset is None and app.session.pair.source.name == "astronaut.jpg"


def test_a_failed_read_is_a_message_and_the_session_stays(make_app, qtbot, sift_matcher, pfwillow_root, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    reader = SlowReader(monkeypatch, DocumentError("'test_pairs.csv' line 2 has 3 columns, expected 42"))
    reader.released.set()
    app.files.open_path(pfwillow_root)
    wait_loaded(qtbot, app)
    assert app.window.message_banner.text == "'test_pairs.csv' line 2 has 3 columns, expected 42"
    assert not app.window.loading.isVisible() and app.session.pair.source.name == "astronaut.jpg"

    spair = pfwillow_root.parent / "SPair-71k"
    (spair / "PairAnnotation").mkdir(parents=True)  # looks like SPair-71k, but has no split lists
    monkeypatch.setattr(datasets, "open_dataset", reader.original)
    app.files.open_path(spair)
    wait_loaded(qtbot, app)
    assert "SPair-71k has no split 'test'" in app.window.message_banner.text and app.session.dataset is None
