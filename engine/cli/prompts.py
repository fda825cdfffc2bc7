"""``sd4match prompts``: import the released learned prompts and list what is installed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..prompts.library import PromptLibrary, import_archive


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prompts",
        help="import or list learned prompts",
        description="Manage learned prompts (Single, Class, CPM) in the release's folder layout.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    importer = actions.add_parser(
        "import", help="copy prompts from pretrained_prompts.zip (or a folder) into the library"
    )
    importer.add_argument("archive", type=Path, help="pretrained_prompts.zip from the SD4Match release, or a folder")
    importer.add_argument("--to", type=Path, default=None, help="library folder (default: the user's prompt library)")
    importer.set_defaults(run=run_import)
    lister = actions.add_parser("list", help="list the prompts of a library")
    lister.add_argument("--prompts", type=Path, default=None, help="folder or zip (default: the user's prompt library)")
    lister.set_defaults(run=run_list, computes=False)  # no model: torch is not imported (engine/cli/__init__.py)


def run_import(args: argparse.Namespace) -> int:
    entries = import_archive(args.archive, args.to)
    destination = PromptLibrary(args.to).root
    print(f"imported into {destination}:")
    _print_entries(entries)
    return 0


def run_list(args: argparse.Namespace) -> int:
    library = PromptLibrary(args.prompts)
    entries = library.entries()
    if not entries:
        print(
            f"no learned prompts in {library.root}; import them with `sd4match prompts import pretrained_prompts.zip`"
        )
        return 0
    print(f"{library.root}:")
    _print_entries(entries)
    return 0


def _print_entries(entries: list) -> None:
    for entry in entries:
        print(f"  {entry.variant:<7} set={entry.prompt_set:<10} model={entry.model:<6} {entry.member}")
