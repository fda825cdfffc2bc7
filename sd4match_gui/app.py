"""Entry point: ``sd4match-gui [--demo] [IMAGES... | FOLDER | PAIR_LIST | SESSION.json]``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine.errors import SettingsError
from engine.runtime import RuntimeOptions, configure_process
from engine.settings import BACKENDS

from . import __version__
from .bundled_files import APP_ICON
from .controller.app_controller import AppController
from .main_window import MainWindow
from .preferences import APPLICATION, ORGANISATION, PreferenceStore
from .worker.engine_client import EngineClient
from .worker.engine_worker import MatcherFactory, default_matcher


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sd4match-gui",
        description="Click a point on the source image and see its match and heatmap on the target.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="two images; or one folder, SPair-71k folder, pair list (.txt/.csv) or session (.json)",
    )
    parser.add_argument("--demo", action="store_true", help="open the bundled sample pair")
    parser.add_argument("--split", default="test", help="SPair-71k split to open (default: %(default)s)")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="feature backend for this session")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    if len(args.paths) > 2:
        parser.error("give at most two paths (a source and a target image)")
    return args


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
    controller = build()
    open_initial(controller, args)
    controller.window.show()
    return app.exec()
