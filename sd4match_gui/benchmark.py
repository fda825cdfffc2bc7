"""Click-to-drawn and hover-to-drawn latency of the real window: ``python -m sd4match_gui.benchmark``.

For each backend the demo pair is opened and its features computed once (cached). For each point
count (10, 100 and 1,000 by default) that many points are put on the pair, spread over the left
three quarters of the source, and their predictions awaited. Then, 200 times: a raw mouse click at
a random pixel of the source's right quarter (clear of every marker: a click on a marker selects
it) is sent to the canvas, and the clock stops when the window has finished painting the first
frame in which the canvas shows the answer (the target marker and the heatmap are on screen). The panels
beside the images (points table, status texts) follow in the next frame: "every view drawn" is
the time until that frame is painted too. The point is then undone, and the undo's repaints and
autosave are let finish, so that every click sees the same points and a settled window. Then 200
hovers: a raw mouse move to a random source pixel, until the first repaint that shows its preview
(the preview point and its heatmap on the target), each move after the previous preview's
throttle cool-down. Beside each latency it
records the CPU time of the GUI thread and of the whole process (engine and autosave threads
included) meanwhile: the work an event costs, which a busy machine does not inflate the way it
inflates the latency. Runs offscreen; preferences and autosave go to a temporary folder.

Backends: ``sift`` (the weights-free backend at its default input size, 768: a 48 x 48 grid like
SD2-1's layer 1), ``tiny-sd`` (a tiny random Stable Diffusion at 256: 16 x 16 grid) and ``sd2-1``
(the real SD2-1 architecture with random weights, at ``--size``, E = 1; minutes per pair on a CPU).

``--while-prefetch``: the same clicks and hovers while the engine thread prefetches. A list of four
images (crops of the demo photos) opens as a pair list; once the first pair is answered, the app
prefetches the features of the two pairs ahead (two new images) and the clicks and hovers are made
on the first pair meanwhile. Only events drawn before the prefetch finished count; their number is
reported. Use a backend whose extraction outlasts the clicks (``sd2-1``, or ``tiny-sd`` at a large
``--size``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WARM_UP = 10
POINT_COUNTS = (10, 100, 1000)
TIMEOUT_MS = 60_000
EDGE = 10  # image pixels kept free along the borders
CLICK_STRIP = 0.25  # the right quarter of the source takes the measured clicks, the rest the points
MARKER_CLEARANCE = 25  # image pixels between the points and the strip of measured clicks


def _isolate(folder: Path) -> None:
    """Keep the benchmark away from the user's preferences, recovery files and display."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SD4MATCH_HOME"] = str(folder / "home")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _matcher_and_features(backend: str, folder: Path, size: int | None = None):
    from engine import FeatureSettings, Matcher, ModelSources, resolve_runtime

    if backend == "sift":
        return Matcher(), FeatureSettings(backend="sift", size=size or 768)
    from engine.bench.random_init import random_stable_diffusion, save_stable_diffusion

    if backend == "sd2-1":
        from engine.bench.pipelines import parts_from_random

        runtime = resolve_runtime("auto", "auto")
        parts = parts_from_random(random_stable_diffusion("sd2-1", seed=0), runtime, "sd2-1")
        return Matcher.from_parts(parts), FeatureSettings(backend="sd", size=size or 768, ensemble=1)
    model = save_stable_diffusion(random_stable_diffusion("tiny", seed=0), folder / "tiny-sd")
    matcher = Matcher(ModelSources(sd=str(model)), runtime=resolve_runtime("cpu", "float32"))
    return matcher, FeatureSettings(backend="sd", size=size or 256, ensemble=1)


def _wait(app, condition) -> None:
    """Run the event loop until ``condition()`` holds, checking after each answer or finished request."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    loop = QEventLoop()

    def check(*_: object) -> None:
        if condition():
            loop.quit()

    signals = (app.model.results.answered, app.computation.busy)  # a model event and a Qt signal
    for signal in signals:
        signal.connect(check)
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    loop.exec()
    for signal in signals:
        signal.disconnect(check)
    if not condition():
        raise RuntimeError("no answer from the engine within the time limit")


class PaintWatch:
    """Records when the first frame of the window in which ``widget`` shows what ``ready()`` checks
    has finished: every widget of that repaint painted and the frame handed to the screen.

    The window paints all its changed widgets in one event (``UpdateRequest``); the clock stops as
    that event returns, before anything queued behind the frame runs (``controller/next_frame.py``).
    """

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        watch = self

        class Filter(QObject):
            def eventFilter(self, _obj, event) -> bool:
                if event.type() == QEvent.Type.Paint and watch.ready is not None and watch.ready():
                    watch.ready = None
                    watch.shown = True  # in the frame being painted now
                return False

        self.ready = None
        self.shown = False
        self.finished_at = 0.0
        self.finished_cpu = 0.0
        self.finished_process = 0.0
        self._filter = Filter()
        self._widget = widget
        widget.installEventFilter(self._filter)
        self._window = window = widget.window()
        self._window_event = window.event

        def frame_event(event) -> bool:
            handled = self._window_event(event)
            if watch.shown and event.type() == QEvent.Type.UpdateRequest:
                watch.shown = False
                watch.finish()
            return handled

        window.event = frame_event  # around the window's own handling, which paints the frame

    def remove(self) -> None:
        self._widget.removeEventFilter(self._filter)
        self._window.event = self._window_event

    def arm(self, ready) -> None:
        self.ready, self.shown, self.finished_at = ready, False, 0.0

    def finish(self) -> None:
        self.finished_at, self.finished_cpu, self.finished_process = (
            time.perf_counter(),
            time.thread_time(),
            time.process_time(),
        )

    def done(self) -> bool:
        return self.finished_at > 0


def _wait_until(condition) -> None:
    """Run the event loop, asleep between events as the app's own loop is, until ``condition()`` holds.

    A timer wakes it every 50 ms to look at the clock and at conditions that another thread turns.
    (``processEvents`` with a time limit drops its wait flag and spins: on two cores that spin took
    a core and the interpreter lock from the lane and the engine while they computed the answer.)
    """
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    wake = QTimer()
    wake.start(50)
    try:
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("the canvas did not repaint within the time limit")
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        wake.stop()


def _mouse(canvas, xy: tuple[float, float], events: tuple[tuple[str, str, str], ...], panel: int | None = None) -> None:
    """Send raw mouse ``events`` (event type, button, buttons held) at pixel ``xy`` of ``panel`` (the source)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from .views.coords import to_view
    from .views.pair_canvas import SOURCE

    view = canvas.panel(SOURCE if panel is None else panel).view
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


def _timed(painted: PaintWatch, ready, action) -> tuple[float, float, float]:
    """Milliseconds from ``action()`` to the end of the first paint after which ``ready()`` holds,
    and the CPU milliseconds meanwhile of the GUI thread and of the whole process (all threads: the
    engine's and the autosave's too). CPU time is the work itself, whatever else the machine runs;
    the process's threads share one interpreter lock, so their Python work delays the window's."""
    painted.arm(ready)
    started, started_cpu, started_process = time.perf_counter(), time.thread_time(), time.process_time()
    action()
    _wait_until(painted.done)
    return (
        (painted.finished_at - started) * 1000,
        (painted.finished_cpu - started_cpu) * 1000,
        (painted.finished_process - started_process) * 1000,
    )


def _summary(timings: list[tuple[float, float, float]]) -> dict[str, float]:
    ordered = sorted(latency for latency, _, _ in timings)
    return {
        "count": len(ordered),
        "gui_cpu_median_ms": statistics.median(cpu for _, cpu, _ in timings),
        "process_cpu_median_ms": statistics.median(cpu for _, _, cpu in timings),
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
    }


def _window(backend: str, folder: Path, size: int | None, name: str):
    """The main window on ``backend``'s matcher (isolated preferences), shown, nothing open; and the matcher."""
    from PySide6.QtCore import QSettings

    from engine import PromptSpec

    from .app import build
    from .preferences import PreferenceStore

    matcher, features = _matcher_and_features(backend, folder, size)
    store = PreferenceStore(QSettings(str(folder / f"{name}.ini"), QSettings.Format.IniFormat))
    app = build(store, lambda _config: matcher)
    app.window.resize(1500, 860)
    app.window.show()
    app.settings.set_engine(PromptSpec(), features)
    return app, matcher


def measure(backend: str, clicks: int, folder: Path, counts: tuple[int, ...] = POINT_COUNTS, seed: int = 0, size=None):
    """Latencies in milliseconds for one backend: ``{count: {"click": ..., "hover": ...}}`` and the
    number of feature extractions."""
    app, matcher = _window(backend, folder, size, backend)
    app.open_demo()
    _wait(app, lambda: app.computation.idle and app.computation.applied > 0)
    rng = np.random.default_rng(seed)
    results = {count: _measure_count(app, count, clicks, rng) for count in counts}
    misses = matcher.features.stats.misses
    app.window.close()
    # Two extractions (source, target): every measured click and hover used the cache.
    return {"points": results, "feature_extractions": misses}


def measure_while_prefetch(
    backend: str, clicks: int, folder: Path, counts: tuple[int, ...] = (10,), seed: int = 0, size=None
):
    """As :func:`measure`, on the first pair of a four-image list while the app prefetches the two
    pairs ahead; only events drawn before the prefetch ended count (``prefetch_done`` says whether
    it ended before the last one)."""
    from PySide6.QtCore import Qt

    from .collection_benchmark import make_images

    app, _matcher = _window(backend, folder, size, f"{backend}-prefetch")
    make_images(folder / f"{backend}-list", 4)
    prefetched: list[float] = []  # when each prefetched item was done (engine thread)
    app.client.worker.prefetched.connect(lambda _item: prefetched.append(1.0), Qt.ConnectionType.DirectConnection)
    app.files.open_path(folder / f"{backend}-list")
    started = time.perf_counter()
    _wait(app, lambda: app.computation.idle and app.computation.applied > 0)
    first_pair_s = time.perf_counter() - started
    planned = len(app.prefetch.sent[-1].pairs) if app.prefetch.sent else 0
    rng = np.random.default_rng(seed)
    results = {
        count: _measure_count(app, count, clicks, rng, keep=lambda: len(prefetched) < planned) for count in counts
    }
    done = len(prefetched) >= planned
    app.window.close()
    return {"points": results, "first_pair_s": round(first_pair_s, 1), "prefetch_done": done}


def _measure_count(
    app, count: int, clicks: int, rng: np.random.Generator, keep=lambda: True
) -> dict[str, dict[str, float]]:
    """Click and hover timings on the open pair with ``count`` points; an event counts only if
    ``keep()`` still holds once it is drawn."""
    from PySide6.QtWidgets import QApplication

    from engine.export.document import Keypoint

    canvas = app.window.canvas
    source = app.current_images[0]
    split = source.width * (1 - CLICK_STRIP)
    base = rng.uniform((EDGE, EDGE), (split - MARKER_CLEARANCE, source.height - EDGE), size=(count, 2))
    spots = rng.uniform((split, EDGE), (source.width - EDGE, source.height - EDGE), size=(WARM_UP + clicks, 2))
    app.session.history.clear()
    app.session.set_points(app.session.pair.pair_id, [Keypoint(i, (x, y)) for i, (x, y) in enumerate(base)])
    app.session.selected = None
    app.after_change()
    _wait(app, lambda: app.computation.idle and all(p.trg_xy is not None for p in app.session.points()))

    painted = PaintWatch(canvas.viewport())
    click_timings, all_drawn = [], []
    for index, xy in enumerate(spots):
        new_id = app.session.next_point_id()
        started = time.perf_counter()
        timing = _timed(painted, lambda new_id=new_id: _drawn(app, new_id), lambda xy=xy: _mouse(canvas, xy, CLICK))
        _wait_until(lambda: app.settled)  # the panels beside the images follow the canvas's frame
        QApplication.processEvents()  # and are painted
        if index >= WARM_UP and keep():
            click_timings.append(timing)
            all_drawn.append((time.perf_counter() - started) * 1000)
        app.annotation.undo()
        _wait(app, lambda: app.computation.idle)
        settle(app)
    hover_timings = []
    for index, xy in enumerate(spots):
        timing = _timed(painted, lambda xy=xy: _preview_drawn(app, xy), lambda xy=xy: _mouse(canvas, xy, HOVER))
        if index >= WARM_UP and keep():
            hover_timings.append(timing)
        _wait_until(lambda: not app.hover.cooling_down)
    painted.remove()
    summaries = {
        event: _summary(t) if t else {"count": 0} for event, t in (("click", click_timings), ("hover", hover_timings))
    }
    if all_drawn:
        summaries["click"]["all_views_median_ms"] = statistics.median(all_drawn)
    return summaries


def settle(app) -> None:
    """Let the last action finish everything it started: its layouts, the repaint of every widget
    and its autosave. That work belongs to it, not to the next event (a person's next click comes
    long after it is done)."""
    from PySide6.QtWidgets import QApplication

    _wait_until(lambda: not app.window.canvas.holding)
    for _ in range(3):  # a repaint may post a layout or another repaint
        QApplication.processEvents()
    app.files.writer.flush()


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
        and app.model.results.heatmap_for("current", app.session.pair.pair_id, point_id) is not None
        and panel.heatmap.isVisible()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sd4match_gui.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=200, help="measured clicks (and hovers) per backend and count")
    parser.add_argument("--backends", nargs="+", default=None, choices=["sift", "tiny-sd", "sd2-1"])
    parser.add_argument("--size", type=int, default=None, help="input size (default: 768 sift and sd2-1, 256 tiny-sd)")
    parser.add_argument(
        "--while-prefetch", action="store_true", help="measure on a pair list while the pairs ahead are prefetched"
    )
    parser.add_argument("--points", nargs="+", type=int, default=None, help="points on the pair (one run each)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    args.backends = args.backends or (["sd2-1"] if args.while_prefetch else ["sift", "tiny-sd"])
    args.points = args.points or ([10] if args.while_prefetch else list(POINT_COUNTS))
    if any(count < 0 for count in args.points) or args.clicks < 1:
        parser.error("--points must be >= 0 and --clicks >= 1")
    from engine.runtime import RuntimeOptions, configure_process

    configure_process(RuntimeOptions.from_environment())  # as sd4match-gui does at start, before any thread
    with tempfile.TemporaryDirectory(prefix="sd4match-bench-") as temporary:
        folder = Path(temporary)
        _isolate(folder)
        from PySide6.QtWidgets import QApplication

        QApplication.instance() or QApplication(sys.argv[:1])
        run = measure_while_prefetch if args.while_prefetch else measure
        results = {b: run(b, args.clicks, folder, tuple(args.points), size=args.size) for b in args.backends}
    situation = "while the pairs ahead are prefetched" if args.while_prefetch else "cached features"
    print(f"latency to drawn, {args.clicks} each, {situation}, offscreen; load {os.getloadavg()}")
    columns = (
        "median ms | p95 ms | max ms | GUI CPU ms (median) | process CPU ms (median) | events"
        " | every view drawn ms (median) | feature extractions"
    )
    print(f"| backend | points | event | {columns} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for backend, r in results.items():
        for count, events in r["points"].items():
            for event in ("click", "hover"):
                e = events[event]
                if not e["count"]:
                    print(f"| {backend} | {count} | {event} | no event before the prefetch ended |")
                    continue
                times = f"{e['median_ms']:.1f} | {e['p95_ms']:.1f} | {e['max_ms']:.1f}"
                times += f" | {e['gui_cpu_median_ms']:.1f} | {e['process_cpu_median_ms']:.1f}"
                times += f" | {e['count']}"
                every = f"{e['all_views_median_ms']:.1f}" if "all_views_median_ms" in e else "—"
                print(f"| {backend} | {count} | {event} | {times} | {every} | {r.get('feature_extractions', '')} |")
        if "prefetch_done" in r:
            print(
                f"{backend}: first pair {r['first_pair_s']} s; prefetch ended during the events: {r['prefetch_done']}"
            )
    if args.json is not None:
        from engine import atomic

        atomic.write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
