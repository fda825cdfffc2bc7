"""``sd4match``: the command line. One module per subcommand, each with ``register(subparsers)``.

A subcommand that runs no model (``cache``, ``prompts list``) sets ``computes=False`` in its parser's
defaults: the process-wide runtime options, which import torch to resolve the device, are then
not applied, so it answers without importing torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import EngineError
from . import bench, cache, compare, download, eval, match, prompts, propagate, tune
from .options import attach_negative_values

COMMANDS = (match, compare, download, prompts, eval, bench, tune, propagate, cache)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sd4match",
        description="Semantic correspondence with Stable Diffusion features (SD4Match).",
    )
    parser.add_argument("--version", action="version", version=f"sd4match {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; engine errors print as one line (exit status 2), never as a traceback."""
    args = build_parser().parse_args(attach_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        if getattr(args, "computes", True):
            from ..runtime import RuntimeOptions, configure_process  # torch: only for commands that compute

            # Before any thread starts: a thread keeps the heap it started with (engine/models/cpu_memory.py).
            configure_process(RuntimeOptions.from_environment(), getattr(args, "device", "auto"))
        return int(args.run(args) or 0)
    except EngineError as exc:
        print(f"sd4match {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sd4match {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
