"""``sd4match bench``: extraction, prompt-switch and per-click timings on the real architecture."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from .. import atomic
from ..bench.report import to_markdown
from ..bench.run import BenchOptions, run_benchmark
from ..runtime import DEVICES, DTYPES


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
    parser.add_argument("--no-warmup", action="store_true", help="time first runs too (halves the run time)")
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="timed runs per row, reporting the median (default: %(default)s)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers as JSON")
    parser.set_defaults(run=run)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    options = BenchOptions(
        architecture=args.architecture,
        device=args.device,
        dtype=args.dtype,
        ensembles=tuple(int(value) for value in args.ensembles.split(",") if value),
        size=args.size,
        clicks=args.clicks,
        reference=not args.no_reference,
        warmup=not args.no_warmup,
        repeats=args.repeats,
    )
    report = run_benchmark(options, log=lambda text: print(f"  {text}", file=sys.stderr))
    print(to_markdown(report))
    if args.json is not None:
        atomic.write_json(args.json, asdict(report))
    return 0
