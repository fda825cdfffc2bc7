"""Collection mode under load: ``python -m sd4match_gui.collection_benchmark``.

For each backend: the demo's astronaut with six keypoints is the template of a collection of
``--images`` images (crops of the two demo photos at other scales, written to a temporary folder).
Measured:

* **propagation throughput**: from File > New collection until every image holds its predictions
  (engine thread, one image at a time; the features of every image are new, so each image costs
  one extraction plus the matching and cycle check of every point), in seconds per image;
* **click-to-drawn while propagating**: while the propagation runs, ``--clicks`` raw mouse clicks
  on the open image's target, each correcting the selected keypoint, timed from the click to the
  end of the first repaint that shows the marker at its new place (the reviewer's action; the
  window redraws it at once, whatever the engine is computing). Only clicks made while images were
  still being propagated count. The same clicks are then repeated once propagation has ended, for
  the latency of the same action on the same machine without it.

Backends: ``sift`` (weights-free, input 768) and ``tiny-sd`` (the real Stable Diffusion
architecture scaled down, random weights, input 256, on the CPU). Runs offscreen; preferences and
autosave go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .benchmark import CLICK, PaintWatch, _isolate, _matcher_and_features, _mouse, _summary, _timed, _wait_until, settle
from .bundled_files import DEMO_PAIR

TEMPLATE_POINTS = ((200.0, 103.0), (243.0, 103.0), (222.0, 124.0), (222.0, 143.0), (222.0, 166.0), (305.0, 355.0))


def make_images(folder: Path, count: int, photos: Sequence[Path] = DEMO_PAIR) -> list[Path]:
    """``count`` crops of ``photos`` (in turn) at other scales, as JPEG files in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        photo = Image.open(photos[index % len(photos)]).convert("RGB")
        inset, scale = 4 * (index % 10), 1 - 0.02 * (index % 10)
        photo = photo.crop((inset, inset, photo.width - inset, photo.height - inset))
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)))
        paths.append(folder / f"image-{index:03d}.jpg")
        photo.save(paths[-1], quality=90)
    return paths


def measure(backend: str, images: int, clicks: int, folder: Path, seed: int = 0) -> dict[str, object]:
    from PySide6.QtCore import QSettings

    from engine import PromptSpec

    from .app import build
    from .preferences import PreferenceStore
    from .views.pair_canvas import SOURCE

    matcher, features = _matcher_and_features(backend, folder)
    store = PreferenceStore(QSettings(str(folder / f"{backend}-collection.ini"), QSettings.Format.IniFormat))
    app = build(store, lambda _config: matcher)
    app.window.resize(1500, 860)
    app.window.show()
    app.settings.set_engine(PromptSpec(), features)
    app.open_demo()
    _wait_until(lambda: app.current_images is not None and app.computation.idle)
    for x, y in TEMPLATE_POINTS:
        app.annotation.click(SOURCE, x, y)
    _wait_until(lambda: app.computation.idle)
    targets = make_images(folder / f"{backend}-images", images)
    started = time.perf_counter()
    if not app.collection.new_collection(None, targets):
        raise RuntimeError("the collection did not open")
    collection = app.session.collection

    def propagating() -> bool:
        return any(collection.missing(image) for image in collection.images) or app.collection.in_flight is not None

    first = collection.images[0].pair_id
    _wait_until(lambda: all(p.trg_xy is not None for p in app.session.points(first)))
    app.annotation.select(0)
    target = app.current_images[1]
    rng = np.random.default_rng(seed)
    spots = rng.uniform((10, 10), (target.width - 10, target.height - 10), size=(clicks, 2))
    painted = PaintWatch(app.window.canvas.viewport())
    during = _corrections(app, painted, spots, propagating)
    _wait_until(lambda: not propagating())
    seconds = time.perf_counter() - started
    _wait_until(lambda: app.computation.idle)
    after = _corrections(app, painted, spots[: len(during)], lambda: True)  # the same clicks, engine idle
    painted.remove()
    app.window.close()
    return {
        "images": images,
        "propagation_s": round(seconds, 2),
        "s_per_image": round(seconds / images, 3),
        "click_while_propagating": _summary(during) if during else {"count": 0},
        "click_after_propagation": _summary(after) if after else {"count": 0},
    }


def _corrections(app, painted: PaintWatch, spots: np.ndarray, go_on) -> list[tuple[float, float]]:
    """Click each spot of the target while ``go_on()``: (latency, GUI CPU) milliseconds of each."""
    timings = []
    for xy in spots:
        if not go_on():
            break

        def drawn(xy=xy) -> bool:
            point = app.session.point(0)
            markers = app.window.canvas.targets[0].view.markers.markers
            if point is None or point.trg_xy is None or np.abs(np.subtract(point.trg_xy, xy)).max() > 2.0:
                return False  # screen pixels are about 1.3 image pixels: the click lands within 2
            return any(m.xy == point.trg_xy for m in markers)

        timings.append(_timed(painted, drawn, lambda xy=xy: _correct(app, tuple(xy))))
        settle(app)
    return timings


def _correct(app, xy: tuple[float, float]) -> None:
    """A raw click on the target at image pixel ``xy``: the selected keypoint is corrected there."""
    _mouse(app.window.canvas, xy, CLICK, panel=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sd4match_gui.collection_benchmark", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--images", type=int, default=40, help="images in the collection")
    parser.add_argument("--clicks", type=int, default=100, help="corrections clicked while propagating (at most)")
    parser.add_argument("--backends", nargs="+", default=["sift", "tiny-sd"], choices=["sift", "tiny-sd"])
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sd4match-collection-bench-") as name:
        folder = Path(name)
        _isolate(folder)
        from PySide6.QtWidgets import QApplication

        _application = QApplication.instance() or QApplication(sys.argv[:1])
        results = {backend: measure(backend, args.images, args.clicks, folder) for backend in args.backends}
    print(json.dumps(results, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
