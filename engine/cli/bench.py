"""``sd4match bench``: extraction, prompt-switch and per-click timings on the real architecture,
and the command line's own start-up (time to first output of a new process)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from .. import atomic
from ..errors import SettingsError
from ..settings import DEVICES, DTYPES
from .outputs import check_output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark extraction and matching (random weights, real architecture)",
        description=(
            "Build the SD2-1 UNet/VAE/text encoder with random weights (no download; compute does not depend "
            "on weight values) and time the engine against a reference-style pipeline, prompt switching and "
            "per-click matching. Prints a Markdown report."
        ),
    )
    parser.add_argument("--architecture", choices=("sd2-1", "tiny"), default="sd2-1")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    parser.add_argument("--ensembles", default="1,8", help="comma-separated ensemble sizes (default: %(default)s)")
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--clicks", type=int, default=1000)
    parser.add_argument("--no-reference", action="store_true", help="skip the reference-style pipeline")
    parser.add_argument(
        "--no-waits",
        action="store_true",
        help="skip the waits on a new pair (first match at E=1 and progressive, next pair after prefetch)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="time first runs too (halves the run time)")
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="timed runs per row, reporting the median (default: %(default)s)",
    )
    parser.add_argument(
        "--startup-runs",
        type=non_negative_int,
        default=5,
        help="new processes per start-up row: `sd4match --help`, an argument error, a SIFT match "
        "(median; 0 skips them; default: %(default)s)",
    )
    parser.add_argument(
        "--startup-only", action="store_true", help="time only the command line's start-up (seconds, no models)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers as JSON")
    parser.set_defaults(run=run)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.startup_only and args.startup_runs == 0:
        raise SettingsError("--startup-only with --startup-runs 0 would time nothing")
    if args.json is not None:
        check_output_file(args.json, "--json")
    from ..bench.startup import startup_markdown, time_startup

    # First, while this process holds no model: the timed processes have the machine to themselves.
    if args.startup_runs:
        _log(f"timing the command line's start-up, {args.startup_runs} new processes per command")
    startup = time_startup(args.startup_runs) if args.startup_runs else []
    if args.startup_only:
        print(startup_markdown(startup))
        if args.json is not None:
            atomic.write_json(args.json, {"startup": [asdict(row) for row in startup]})
        return 0

    from ..bench.report import to_markdown
    from ..bench.run import BenchOptions, run_benchmark

    options = BenchOptions(
        architecture=args.architecture,
        device=args.device,
        dtype=args.dtype,
        ensembles=tuple(int(value) for value in args.ensembles.split(",") if value),
        size=args.size,
        clicks=args.clicks,
        reference=not args.no_reference,
        waits=not args.no_waits,
        warmup=not args.no_warmup,
        repeats=args.repeats,
    )
    report = run_benchmark(options, log=_log)
    print(to_markdown(report))
    if startup:
        print(startup_markdown(startup))
    if args.json is not None:
        atomic.write_json(args.json, {**asdict(report), "startup": [asdict(row) for row in startup]})
    return 0


def _log(text: str) -> None:
    print(f"  {text}", file=sys.stderr)
