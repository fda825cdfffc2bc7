"""``sd4match cache``: what the persistent feature cache holds, and emptying it."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show or clear the feature cache on disk",
        description=(
            "VAE posteriors and feature maps are kept on disk between runs ($SD4MATCH_CACHE, else "
            "<data home>/cache), shared by the app and every command; least recently used entries "
            "go once the bound is reached (--cache-size of each command, the app's Settings)."
        ),
    )
    parser.set_defaults(computes=False)  # no model: torch is not imported (engine/cli/__init__.py)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("info", help="entries, bytes and where").set_defaults(run=run_info)
    actions.add_parser("clear", help="delete every entry").set_defaults(run=run_clear)


def run_info(args: argparse.Namespace) -> int:
    from ..disk_cache import DiskCache, format_bytes

    info = DiskCache().info()
    print(f"feature cache: {info.root}")
    print(f"entries: {info.entries}")
    print(f"bytes:   {info.bytes} ({format_bytes(info.bytes)})")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    from ..disk_cache import DiskCache

    cache = DiskCache()
    removed = cache.clear()
    print(f"removed {removed} entries from {cache.root}")
    return 0
