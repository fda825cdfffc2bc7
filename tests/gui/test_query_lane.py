"""The query lane: clicks on prepared pairs are answered on a second thread, the same bits as the
engine thread gives, in order with the engine's answers; torch's thread counts stay per thread."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from engine import FeatureSettings, PromptSpec
from engine.variants import Variant
from sd4match_gui.views.pair_canvas import SOURCE
from sd4match_gui.worker.messages import ComputeRequest, EngineConfig, VariantResult
from sd4match_gui.worker.prepared_store import PreparedStore, prepared_key
from sd4match_gui.worker.torch_threads import fix_engine_threads, use_one_thread
from tests.gui.conftest import SIFT, wait_idle
from tests.gui.helpers import click
from tests.gui.test_worker import Gate

# A plain function connected to the worker's signals runs on the worker's (engine) thread unless
# told otherwise; these tests record the answers as they are sent, whichever thread sends them.
DIRECT = Qt.ConnectionType.DirectConnection


def test_an_older_extraction_answering_after_a_newer_lane_answer_is_dropped(make_app, qtbot, sift_matcher, monkeypatch):
    app = make_app(sift_matcher, SIFT)
    store, images, settings = app.client.routing.store, app.current_images, app.session.settings
    pair = sift_matcher.prepare(*images, settings.prompt, settings.features)
    gate = Gate(monkeypatch, sift_matcher)
    store.keep_only(set())  # the pair is not prepared: the first click goes to the engine thread
    click(app.window.canvas, SOURCE, (100.0, 100.0))
    assert gate.entered.wait(timeout=10)  # ... which holds it inside prepare
    older = app.client.latest_id
    [variant] = settings.active_variants()
    store.put((images[0].digest, images[1].digest, variant.prompt, variant.settings), pair)  # as if prepared
    answers: list[VariantResult] = []
    app.client.worker.result.connect(answers.append, DIRECT)
    click(app.window.canvas, SOURCE, (200.0, 150.0))
    newer = app.client.latest_id
    qtbot.waitUntil(lambda: app.computation.idle, timeout=5000)  # the lane answered the newer click
    assert [a.request_id for a in answers] == [newer] and not gate.opened.is_set()
    drawn = [p.trg_xy for p in app.session.points()]
    assert all(xy is not None for xy in drawn)
    dropped = app.computation.dropped

    gate.opened.set()  # the older request's answer now arrives, after the newer one
    qtbot.waitUntil(lambda: any(a.request_id == older for a in answers), timeout=10000)
    qtbot.waitUntil(lambda: app.computation.dropped == dropped + 1, timeout=5000)
    assert [p.trg_xy for p in app.session.points()] == drawn


def test_the_lane_answers_the_bits_the_engine_thread_gives(make_app, qtbot, sift_matcher):
    app = make_app(sift_matcher, SIFT)
    client, settings, images = app.client, app.session.settings, app.current_images
    answers: dict[int, VariantResult] = {}
    client.worker.result.connect(lambda answer: answers.__setitem__(answer.request_id, answer), DIRECT)
    points = np.random.default_rng(0).uniform(20, 400, size=(50, 2))

    def ask() -> int:
        request = ComputeRequest(
            client.next_id(), *images, tuple(settings.active_variants()), settings.localisation, points, 7,
            app.model.preferences.engine_config(),
        )  # fmt: skip
        to_engine = client.routing.store.pairs_for(request) is None
        client.submit(request)
        qtbot.waitUntil(lambda: request.request_id in answers, timeout=10000)
        return request.request_id, to_engine

    client.routing.store.keep_only(set())
    engine_id, on_engine = ask()
    lane_id, on_engine_again = ask()
    assert on_engine and not on_engine_again
    wait_idle(qtbot, app)
    engine, lane = answers[engine_id], answers[lane_id]
    np.testing.assert_array_equal(lane.matches.match_xy, engine.matches.match_xy)
    np.testing.assert_array_equal(lane.matches.confidence, engine.matches.confidence)
    np.testing.assert_array_equal(lane.heatmap, engine.heatmap)
    assert lane.run == engine.run


def test_one_thread_on_the_lane_leaves_other_threads_their_count():
    counts: dict[str, int] = {}
    engine_ready, lane_done = threading.Event(), threading.Event()

    def engine() -> None:
        fix_engine_threads()
        counts["engine before"] = _threads()
        engine_ready.set()
        lane_done.wait(timeout=10)
        counts["engine after"] = _threads()

    def lane() -> None:
        engine_ready.wait(timeout=10)
        use_one_thread()
        counts["lane"] = _threads()
        lane_done.set()

    for group in ((engine, lane), (lambda: counts.__setitem__("later thread", _threads()),)):
        threads = [threading.Thread(target=target) for target in group]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert counts["lane"] == 1
    assert counts["engine after"] == counts["engine before"] == counts["later thread"]


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def test_a_pair_prepared_by_other_models_answers_no_preview():
    """After a change of models, a hover until the engine's next computation must not show the old ones' answer."""
    store = PreparedStore()
    old, new = EngineConfig(dtype="float32"), EngineConfig(dtype="bfloat16")
    key = prepared_key("s", "t", Variant("sift", PromptSpec(), FeatureSettings(backend="sift")))
    pair = object()
    store.reset(old)
    store.put(key, pair)
    assert store.get(key, EngineConfig(dtype="float32", cache_bytes=1)) is pair  # the same models
    assert store.get(key, new) is None
