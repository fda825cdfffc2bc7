"""Screenshots of the real window: ``python -m sd4match_gui.screenshots --out docs/screenshots``.

The app as a fresh install shows it: the bundled demo pair on the weights-free SIFT backend (input
size 640), with facial keypoints of the astronaut matched onto Grace Hopper and two of them
corrected by hand; the nose is selected, so its heatmap is shown. Points are placed through the
same controller calls a mouse click on the canvas makes. Shots (file name -> window size):

- ``main-window.png`` (1600 x 900) and ``comparison.png`` (1600 x 900, four SIFT input sizes side
  by side): the README's;
- ``window-800x500.png`` and ``window-1920x1080.png``: the same window at a small and a large size;
- ``collection.png`` (1600 x 900): a collection under review: the face points propagated onto six
  images made from the demo photos (crops at other scales, written to a temporary folder), one
  image accepted, the queue sorted least confident first, a flagged point selected.

Runs offscreen unless ``QT_QPA_PLATFORM`` says otherwise; preferences, autosave and recovery files
go to a temporary folder, so the user's own are neither read nor changed. The tests run this
command into a temporary folder; the PNGs in ``docs/screenshots`` are retaken by hand with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WINDOW_SHOTS = {  # file name -> window size (width, height), normal mode
    "main-window.png": (1600, 900),
    "window-800x500.png": (800, 500),
    "window-1920x1080.png": (1920, 1080),
}
COMPARISON_SHOT = ("comparison.png", (1600, 900))
COLLECTION_SHOT = ("collection.png", (1600, 900))
SHOTS = (*WINDOW_SHOTS, COMPARISON_SHOT[0], COLLECTION_SHOT[0])
COMPARISON_VARIANTS = "sift@size=384,sift@size=512,sift@size=640,sift@size=768"
FACE = {  # astronaut.jpg pixel -> what it is
    (200.0, 103.0): "left eye",
    (243.0, 103.0): "right eye",
    (222.0, 124.0): "nose",
    (222.0, 143.0): "mouth",
    (222.0, 166.0): "chin",
    (305.0, 355.0): "name badge",
}
CORRECTIONS = {0: (220.0, 195.0), 4: (265.0, 320.0)}  # point id -> the true spot on grace_hopper.jpg (SIFT missed)
SELECTED = 2  # the nose: its heatmap is shown
SIFT_SIZE = 640
TIMEOUT_S = 60.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sd4match_gui.screenshots",
        description="Screenshots of the app on the demo pair (SIFT backend, no weights needed).",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder the PNGs are written to")
    parser.add_argument(
        "--only", nargs="+", choices=SHOTS, default=list(SHOTS), metavar="NAME", help=f"shots to take: {SHOTS}"
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def isolated_user_state() -> Iterator[None]:
    """Preferences, autosave and recovery files in a temporary folder, restored afterwards."""
    from PySide6.QtCore import QSettings

    previous = os.environ.get("SD4MATCH_HOME")
    with tempfile.TemporaryDirectory(prefix="sd4match-screenshots-") as folder:
        os.environ["SD4MATCH_HOME"] = str(Path(folder) / "home")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(folder) / "qsettings"))
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("SD4MATCH_HOME", None)
            else:
                os.environ["SD4MATCH_HOME"] = previous


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Run the event loop until ``condition()`` holds; RuntimeError naming ``what`` after TIMEOUT_S."""
    from PySide6.QtTest import QTest

    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"screenshots: {what} did not happen within {TIMEOUT_S:.0f} s")
        QTest.qWait(10)


def take(names: list[str], out: Path) -> list[Path]:
    """Build the app, place the points and write the PNGs named in ``names`` to ``out``."""
    from PySide6.QtCore import QSettings

    from engine import FeatureSettings, Matcher, PromptSpec

    from .app import build
    from .preferences import PreferenceStore

    out.mkdir(parents=True, exist_ok=True)
    store = PreferenceStore(QSettings())
    matcher = Matcher()  # default sources: the SIFT backend needs no weights
    app = build(store, lambda _config: matcher)
    written = []
    try:
        app.settings.set_engine(PromptSpec(), FeatureSettings(backend="sift", size=SIFT_SIZE))
        app.window.resize(*COMPARISON_SHOT[1])
        app.window.show()
        app.open_demo()
        wait_until(lambda: app.current_images is not None and app.computation.idle, "opening the demo pair")
        annotate_face(app)
        for name, size in WINDOW_SHOTS.items():
            if name in names:
                written.append(shoot(app, size, out / name))
        if COMPARISON_SHOT[0] in names:
            app.settings.set_variants(COMPARISON_VARIANTS)
            app.settings.set_compare_mode(True)
            wait_until(lambda: app.computation.idle, "the comparison")
            panels = app.window.canvas.targets
            if len(panels) != 4 or not all(panel.heatmap.isVisible() for panel in panels):
                raise RuntimeError("screenshots: comparison mode does not show four heatmaps")
            written.append(shoot(app, COMPARISON_SHOT[1], out / COMPARISON_SHOT[0]))
            app.settings.set_compare_mode(False)
        if COLLECTION_SHOT[0] in names:
            written.append(shoot_collection(app, out / COLLECTION_SHOT[0]))
    finally:
        app.window.close()
    return written


def annotate_face(app) -> None:
    """Place the FACE points, correct two of them, select the nose, and wait for every answer."""
    from .views.pair_canvas import SOURCE

    for (x, y), label in FACE.items():
        app.annotation.click(SOURCE, x, y)
        app.annotation.set_label(app.session.selected, label)
    wait_until(lambda: app.computation.idle, "matching the points")
    for point_id, (x, y) in CORRECTIONS.items():
        app.annotation.select(point_id)
        app.annotation.click(0, x, y)
    app.annotation.select(SELECTED)
    wait_until(lambda: app.computation.idle, "the selected point's heatmap")
    target = app.window.canvas.targets[0]
    if len(target.view.markers.markers) != len(FACE) or not target.heatmap.isVisible():
        raise RuntimeError("screenshots: the target view does not show every point and the heatmap")


def shoot_collection(app, path: Path) -> Path:
    """The face points as a collection's template, propagated onto crops and mirror images of the
    demo photos; the first image accepted, the least confident first, a flagged point selected."""
    from .bundled_files import DEMO_PAIR
    from .collection_benchmark import make_images

    with tempfile.TemporaryDirectory(prefix="sd4match-collection-") as folder:
        # Five crops of the template's photo at other scales, and the other photo.
        make_images(Path(folder), 6, (DEMO_PAIR[0],) * 5 + (DEMO_PAIR[1],))
        if not app.collection.new_collection(None, [Path(folder)]):
            raise RuntimeError("screenshots: the collection did not open")
        collection = app.session.collection
        wait_until(
            lambda: not any(collection.missing(i) for i in collection.images) and app.collection.in_flight is None,
            "propagating the collection",
        )
        app.collection.review.accept_passing_here()
        app.window.review_panel.least_confident_first.setChecked(True)
        app.collection.review.next_flagged()
        wait_until(lambda: app.computation.idle, "the flagged point's heatmap")
        app.window.message_banner.hide()  # "the previous session was kept": true, but not the subject
        return shoot(app, COLLECTION_SHOT[1], path)


def shoot(app, size: tuple[int, int], path: Path) -> Path:
    """Resize the window, fit the images to it, and save what it shows as ``path``."""
    from PySide6.QtTest import QTest

    app.window.resize(*size)
    QTest.qWait(50)  # the layout settles before the images are fitted into it
    app.window.canvas.fit_all()
    QTest.qWait(50)
    if not app.window.grab().toImage().save(str(path)):
        raise RuntimeError(f"screenshots: could not write '{path}'")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from PySide6.QtWidgets import QApplication

    _application = QApplication.instance() or QApplication(sys.argv[:1])  # kept alive until the shots are taken
    with isolated_user_state():
        try:
            written = take(args.only, args.out)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
