"""Click-to-drawn and hover-to-drawn latency of the real window: ``python -m sd4match_gui.benchmark``.

For each backend the demo pair is opened and its features computed once (cached); ten points are
placed. Then, 200 times: a raw mouse click at a random source pixel is sent to the canvas, and the
clock stops when the first repaint of the canvas after the answer was applied has finished (the
target marker and the heatmap are on screen); the point is then undone so that every click sees
the same ten points. Then 200 hovers: a raw mouse move to a random source pixel, until the first
repaint that shows its preview (the preview point and its heatmap on the target), each move after
the previous preview's throttle cool-down. Runs offscreen; preferences and autosave go to a
temporary folder.

Backends: ``sift`` (the weights-free backend at its default input size, 768: a 48 x 48 grid like
SD2-1's layer 1) and ``tiny-sd`` (a tiny random Stable Diffusion at 256: 16 x 16 grid).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WARM_UP = 10
BASE_POINTS = 10
TIMEOUT_MS = 60_000
MARKER_CLEARANCE = 25  # image pixels between a measured click and the ten existing points


def _isolate(folder: Path) -> None:
    """Keep the benchmark away from the user's preferences, recovery files and display."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SD4MATCH_HOME"] = str(folder / "home")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _matcher_and_features(backend: str, folder: Path):
    from engine import FeatureSettings, Matcher, ModelSources, resolve_runtime

    if backend == "sift":
        return Matcher(), FeatureSettings(backend="sift")
    from engine.bench.random_init import random_stable_diffusion, save_stable_diffusion

    model = save_stable_diffusion(random_stable_diffusion("tiny", seed=0), folder / "tiny-sd")
    matcher = Matcher(ModelSources(sd=str(model)), runtime=resolve_runtime("cpu", "float32"))
    return matcher, FeatureSettings(backend="sd", size=256, ensemble=1)


def _wait(app, condition) -> None:
    """Run the event loop until ``condition()`` holds, checking after each answer or finished request."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    loop = QEventLoop()

    def check() -> None:
        if condition():
            loop.quit()

    signals = (app.computation.updated, app.computation.busy)
    for signal in signals:
        signal.connect(check)
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    loop.exec()
    for signal in signals:
        signal.disconnect(check)
    if not condition():
        raise RuntimeError("no answer from the engine within the time limit")


class PaintWatch:
    """Records when the first paint of a widget that shows what ``ready()`` checks has finished."""

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject, QTimer

        watch = self

        class Filter(QObject):
            def eventFilter(self, _obj, event) -> bool:
                if event.type() == QEvent.Type.Paint and watch.ready is not None and watch.ready():
                    watch.ready = None
                    # Runs once this paint event has been handled: the frame is drawn.
                    QTimer.singleShot(0, watch.finish)
                return False

        self.ready = None
        self.finished_at = 0.0
        self._filter = Filter()
        widget.installEventFilter(self._filter)

    def arm(self, ready) -> None:
        self.ready, self.finished_at = ready, 0.0

    def finish(self) -> None:
        self.finished_at = time.perf_counter()

    def done(self) -> bool:
        return self.finished_at > 0


def _wait_until(condition) -> None:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the canvas did not repaint within the time limit")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)


def _mouse(canvas, xy: tuple[float, float], events: tuple[tuple[str, str, str], ...]) -> None:
    """Send raw mouse ``events`` (event type, button, buttons held) at source pixel ``xy``."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from .views.coords import to_view
    from .views.pair_canvas import SOURCE

    view = canvas.panel(SOURCE).view
    position = QPointF(canvas.mapFromScene(view.mapViewToScene(to_view(xy))))
    global_position = QPointF(canvas.viewport().mapToGlobal(position))
    for kind, button, buttons in events:
        event = QMouseEvent(
            getattr(QEvent.Type, kind),
            position,
            global_position,
            getattr(Qt.MouseButton, button),
            getattr(Qt.MouseButton, buttons),
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(canvas.viewport(), event)


CLICK = (("MouseButtonPress", "LeftButton", "LeftButton"), ("MouseButtonRelease", "LeftButton", "NoButton"))
HOVER = (("MouseMove", "NoButton", "NoButton"),)


def _timed(painted: PaintWatch, ready, action) -> float:
    """Milliseconds from ``action()`` to the end of the first paint after which ``ready()`` holds."""
    painted.arm(ready)
    started = time.perf_counter()
    action()
    _wait_until(painted.done)
    return (painted.finished_at - started) * 1000


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
    }


def measure(backend: str, clicks: int, folder: Path, seed: int = 0) -> dict[str, float]:
    """Latencies in milliseconds for one backend."""
    from PySide6.QtCore import QSettings

    from engine import PromptSpec

    from .app import build
    from .preferences import PreferenceStore

    matcher, features = _matcher_and_features(backend, folder)
    store = PreferenceStore(QSettings(str(folder / f"{backend}.ini"), QSettings.Format.IniFormat))
    app = build(store, lambda _config: matcher)
    app.window.resize(1500, 860)
    app.window.show()
    app.settings.set_engine(PromptSpec(), features)
    app.open_demo()
    _wait(app, lambda: app.computation.idle and app.computation.applied > 0)
    canvas = app.window.canvas
    rng = np.random.default_rng(seed)
    source = app.current_images[0]
    base = rng.uniform((10, 10), (source.width - 10, source.height - 10), size=(BASE_POINTS, 2))
    spots = rng.uniform((10, 10), (source.width - 10, source.height - 10), size=(20 * (WARM_UP + clicks), 2))
    # Clicks away from the ten markers: a click on a marker selects it instead of adding a point.
    spots = spots[np.linalg.norm(spots[:, None] - base[None], axis=2).min(axis=1) > MARKER_CLEARANCE]
    spots = np.concatenate([base, spots[: WARM_UP + clicks]])
    for xy in spots[:BASE_POINTS]:
        _mouse(canvas, tuple(xy), CLICK)
    _wait(app, lambda: app.computation.idle and all(p.trg_xy is not None for p in app.session.points()))

    painted = PaintWatch(canvas.viewport())
    clicks_ms = []
    for index, xy in enumerate(spots[BASE_POINTS:]):
        new_id = app.session.next_point_id()
        elapsed = _timed(painted, lambda new_id=new_id: _drawn(app, new_id), lambda xy=xy: _mouse(canvas, xy, CLICK))
        if index >= WARM_UP:
            clicks_ms.append(elapsed)
        app.annotation.undo()
        _wait(app, lambda: app.computation.idle)
    hovers_ms = []
    for index, xy in enumerate(spots[BASE_POINTS:]):
        elapsed = _timed(painted, lambda xy=xy: _preview_drawn(app, xy), lambda xy=xy: _mouse(canvas, xy, HOVER))
        if index >= WARM_UP:
            hovers_ms.append(elapsed)
        _wait_until(lambda: not app.hover.cooling_down)
    misses = matcher.features.stats.misses
    app.window.close()
    # Two extractions (source, target): every measured click and hover used the cache.
    return {"click": _summary(clicks_ms), "hover": _summary(hovers_ms), "feature_extractions": misses}


def _preview_drawn(app, xy: np.ndarray) -> bool:
    """The preview of the source pixel ``xy`` (its target point and heatmap) is in the view."""
    preview = app.hover.previews.get("current")
    panel = app.window.canvas.targets[0]
    return (
        preview is not None
        and float(np.abs(np.subtract(preview.source_xy, xy)).max()) < 2.0  # screen pixels are ~1.3 image px
        and panel.preview_xy == preview.xy
        and panel.heatmap_scores is preview.scores
    )


def _drawn(app, point_id: int) -> bool:
    """The target marker and the heatmap of ``point_id`` are in the views."""
    point = app.session.point(point_id)
    panel = app.window.canvas.targets[0]
    return (
        point is not None
        and point.trg_xy is not None
        and any(m.key == point_id for m in panel.view.markers.markers)
        and app.computation.heatmap_for("current", app.session.pair.pair_id, point_id) is not None
        and panel.heatmap.isVisible()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sd4match_gui.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200, help="measured clicks (and hovers) per backend")
    parser.add_argument("--backends", nargs="+", default=["sift", "tiny-sd"], choices=["sift", "tiny-sd"])
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    from engine.runtime import RuntimeOptions, configure_process

    configure_process(RuntimeOptions.from_environment())  # as sd4match-gui does at start, before any thread
    with tempfile.TemporaryDirectory(prefix="sd4match-bench-") as temporary:
        folder = Path(temporary)
        _isolate(folder)
        from PySide6.QtWidgets import QApplication

        QApplication.instance() or QApplication(sys.argv[:1])
        results = {backend: measure(backend, args.clicks, folder) for backend in args.backends}
    print(f"latency to drawn, {args.clicks} each, cached features, {BASE_POINTS} points on the pair, offscreen")
    print("| backend | event | median ms | p95 ms | max ms | feature extractions |")
    print("|---|---|---|---|---|---|")
    for backend, r in results.items():
        for event in ("click", "hover"):
            e = r[event]
            row = f"| {backend} | {event} | {e['median_ms']:.1f} | {e['p95_ms']:.1f} | {e['max_ms']:.1f} |"
            print(f"{row} {r['feature_extractions']} |")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
