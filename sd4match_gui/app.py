"""Entry point: ``sd4match-gui [SOURCE TARGET | SESSION.json | FOLDER | PAIR_LIST] [--model M] [--prompts P]``.

The arguments are checked before the window opens: a path that does not exist, or a combination
that cannot be opened, ends the command with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import NoReturn

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.errors import EngineError, SettingsError
from engine.models.weights import KINDS, looks_like_path, missing_files
from engine.prompts.library import PromptLibrary
from engine.settings import BACKENDS

from . import __version__
from .bundled_files import APP_ICON
from .controller.app_controller import AppController
from .main_window import MainWindow
from .model.datasets import IMAGE_SUFFIXES
from .preferences import APPLICATION, ORGANISATION, PreferenceStore
from .worker.engine_client import EngineClient
from .worker.engine_worker import MatcherFactory, default_matcher

USAGE = "%(prog)s [SOURCE TARGET | SESSION.json | FOLDER | PAIR_LIST] [--model M] [--prompts P] [options]"
EXAMPLES = """examples:
  sd4match-gui cat1.jpg cat2.jpg          open a pair of images
  sd4match-gui my-session.json            continue a saved session (or open an export)
  sd4match-gui photos/                    every consecutive pair of a folder's images
  sd4match-gui /data/SPair-71k --split val
  sd4match-gui --model ~/models/sd2-1 --prompts ~/prompts/pretrained_prompts.zip

--model and --prompts are remembered, as if chosen in Settings."""


class _Parser(argparse.ArgumentParser):
    """Errors are one line (the usage is behind --help), exit status 2 as argparse's."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the command line; exits with a one-line error on bad arguments."""
    parser = _Parser(
        prog="sd4match-gui",
        usage=USAGE,
        description="Click a point on the source image and see its match and heatmap on the target.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="two images (source, target); or one session (.json), folder, SPair-71k / PF-Pascal / "
        "PF-Willow folder, or pair list (.txt/.csv)",
    )
    parser.add_argument("--model", metavar="M", help="Stable Diffusion 2-1 weights: hub id or diffusers folder")
    parser.add_argument("--prompts", metavar="P", type=Path, help="learned prompts: folder, .zip, or .pt file")
    parser.add_argument("--demo", action="store_true", help="open the bundled sample pair")
    parser.add_argument("--split", default="test", help="split of a benchmark folder to open (default: %(default)s)")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="feature backend for this session")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    problem = _check(args)
    if problem is not None:
        parser.error(problem)
    return args


def _check(args: argparse.Namespace) -> str | None:
    """What is wrong with the parsed arguments, or None."""
    paths: list[Path] = args.paths
    if len(paths) > 2:
        return "give at most two paths (a source and a target image)"
    if args.demo and paths:
        return "give --demo or paths to open, not both"
    for path in paths:
        if not path.exists():
            return f"'{path}' does not exist"
    if len(paths) == 2:
        other = next((p for p in paths if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES), None)
        if other is not None:
            return f"'{other}' is not an image; two paths are a source and a target image"
    elif len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() in IMAGE_SUFFIXES:
        return f"'{paths[0]}' is one image; give a target image after it"
    if args.model is not None and looks_like_path(args.model):
        folder = Path(args.model).expanduser()
        if not folder.is_dir():
            return f"--model: '{args.model}' is not a folder (give a diffusers folder or a hub id)"
        missing = missing_files(folder, KINDS["sd"][1])
        if missing:
            return f"--model: '{args.model}' is not a Stable Diffusion folder in diffusers layout; missing {missing[0]}"
    if args.prompts is not None:
        return prompts_problem(args.prompts)
    return None


def prompts_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the learned-prompt library (a folder or .zip holding prompt files), or None."""
    if not path.expanduser().exists():
        return f"--prompts: '{path}' does not exist"
    try:
        found = PromptLibrary(path).entries()
    except (EngineError, OSError) as exc:
        return f"--prompts: {exc}"
    if not found:
        return f"--prompts: '{path}' holds no learned prompts (a folder or .zip of the released prompt files)"
    return None


def remember_models(store: PreferenceStore, args: argparse.Namespace) -> None:
    """Make --model and --prompts the preferences (the engine is configured from them), as Settings does."""
    changes = {}
    if args.model is not None:
        changes["sd"] = str(Path(args.model).expanduser().resolve()) if looks_like_path(args.model) else args.model
    if args.prompts is not None:
        changes["prompts"] = str(args.prompts.expanduser().resolve())
    if changes:
        store.save(store.load().replace(**changes))


def build(store: PreferenceStore | None = None, make_matcher: MatcherFactory = default_matcher) -> AppController:
    """A main window with its engine thread and controller (not shown yet)."""
    return AppController(MainWindow(), EngineClient(make_matcher), store or PreferenceStore())


def open_initial(controller: AppController, args: argparse.Namespace) -> None:
    if args.backend is not None:
        settings = controller.session.settings
        controller.settings.set_engine(settings.prompt, dataclasses.replace(settings.features, backend=args.backend))
    if args.demo:
        controller.open_demo()
    elif len(args.paths) == 2:
        controller.files.open_images(*args.paths)
    elif args.paths:
        controller.files.open_path(args.paths[0], args.split)
    else:
        controller.offer_start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from engine.runtime import RuntimeOptions, configure_process  # torch: not for --help or a bad argument

    # Before any thread starts, so that the engine thread can reuse freed memory (engine/models/cpu_memory.py).
    try:
        configure_process(RuntimeOptions.from_environment())
    except SettingsError as exc:
        print(f"sd4match-gui: error: {exc}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setWindowIcon(QIcon(str(APP_ICON)))
    store = PreferenceStore()
    remember_models(store, args)
    controller = build(store)
    open_initial(controller, args)
    controller.window.show()
    return app.exec()
