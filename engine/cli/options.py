"""Options shared by the subcommands, and turning them into engine objects.

Building the parser and checking options import no torch, numpy or model code (issue 15: help
and argument errors answer at once); what needs them imports it where it is called.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..disk_cache import DEFAULT_DISK_CACHE_BYTES, DiskCache, parse_size
from ..errors import PointError, SettingsError
from ..progress import Progress
from ..prompts.spec import DEFAULT_TEMPLATE, VARIANTS, PromptSpec
from ..settings import (
    BACKENDS,
    DEFAULT_DINOV2_MODEL,
    DEFAULT_SD_MODEL,
    DEVICES,
    DTYPES,
    LOCALISATIONS,
    FeatureSettings,
    LocalisationSettings,
    ModelSources,
)

if TYPE_CHECKING:
    import numpy as np

    from ..matcher import Matcher

PROMPTS_HELP = (
    "learned prompts: folder, pretrained_prompts.zip, or one caption.pt/ckpt.pt "
    "(default: the library filled by `sd4match prompts import`)"
)
DTYPE_HELP = "default: float16 on CUDA, bfloat16 autocast on CPUs with native bf16, else float32"


def add_model_options(
    parser: argparse.ArgumentParser, prompts_help: str = PROMPTS_HELP, dtype_help: str = DTYPE_HELP, cache: bool = True
) -> None:
    """--model, --prompts, --dinov2, --device, --dtype; commands that write prompts or train reword two.
    With ``cache``, also --no-cache and --cache-size (the persistent feature cache)."""
    group = parser.add_argument_group("models")
    group.add_argument(
        "--model",
        default=DEFAULT_SD_MODEL,
        help="SD2-1 hub id (read from the local cache) or diffusers folder (default: %(default)s)",
    )
    group.add_argument(
        "--prompts",
        default=None,
        help=prompts_help,
    )
    group.add_argument(
        "--dinov2",
        default=DEFAULT_DINOV2_MODEL,
        help="DINOv2 hub id or folder, for --variant cpm (default: %(default)s)",
    )
    group.add_argument("--device", default="auto", choices=DEVICES, help="default: cuda, then mps, then cpu")
    group.add_argument(
        "--dtype",
        default="auto",
        choices=DTYPES,
        help=dtype_help,
    )
    if cache:
        add_cache_options(parser)


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """--no-cache, --cache-size: the persistent feature cache (``sd4match cache info``)."""
    group = parser.add_argument_group("feature cache")
    group.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the feature cache on disk this run ($SD4MATCH_CACHE or <data home>/cache)",
    )
    group.add_argument(
        "--cache-size",
        type=size_argument,
        default=DEFAULT_DISK_CACHE_BYTES,
        metavar="SIZE",
        help="bound of the feature cache, e.g. 8G or 500M; least recently used entries go first (default: 4G)",
    )


def disk_cache_from_args(args: argparse.Namespace) -> DiskCache | None:
    """The persistent feature cache the options ask for; None with --no-cache."""
    if getattr(args, "no_cache", False):
        return None
    return DiskCache(max_bytes=getattr(args, "cache_size", DEFAULT_DISK_CACHE_BYTES))


def size_argument(text: str) -> int:
    """argparse type for byte sizes such as 4G (:func:`engine.disk_cache.parse_size`)."""
    try:
        return parse_size(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_variant_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("features and prompt")
    group.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="sd, sift (no weights needed), or auto: sd if its weights are found (default)",
    )
    group.add_argument("--variant", default="empty", choices=VARIANTS, help="prompt variant (default: %(default)s)")
    group.add_argument(
        "--prompt-set",
        default="spair",
        help="learned prompt set: spair, pfpascal or a tuned set's name (default: %(default)s)",
    )
    group.add_argument("--category", default=None, help="object category, for --variant class and {category} in --text")
    group.add_argument(
        "--text", default=DEFAULT_TEMPLATE, help="text prompt or template for --variant text (default: %(default)r)"
    )
    group.add_argument("--timestep", type=int, default=50, help="diffusion timestep (default: %(default)s)")
    group.add_argument("--layer", type=int, default=1, help="UNet up block (default: %(default)s)")
    group.add_argument("--ensemble", type=int, default=8, help="noise draws averaged (default: %(default)s)")
    group.add_argument("--size", type=int, default=768, help="square input size S (default: %(default)s)")
    group.add_argument("--seed", type=int, default=0, help="seed of the randomness contract (default: %(default)s)")


def add_localisation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("localisation")
    group.add_argument(
        "--localisation",
        default="kernel",
        choices=LOCALISATIONS,
        help="kernel soft-argmax (default), argmax or soft-argmax",
    )
    group.add_argument("--sigma", type=float, default=7.0, help="kernel width in feature cells (default: %(default)s)")
    group.add_argument("--temperature", type=float, default=0.04, help="softmax temperature (default: %(default)s)")


def matcher_from_args(args: argparse.Namespace) -> Matcher:
    from ..matcher import Matcher
    from ..runtime import resolve_runtime

    prompts = args.prompts if args.prompts is None or not _is_prompt_file(args.prompts) else None
    sources = ModelSources(sd=args.model, dinov2=args.dinov2, prompts=prompts)
    return Matcher(sources, runtime=resolve_runtime(args.device, args.dtype), disk_cache=disk_cache_from_args(args))


def prompt_from_args(args: argparse.Namespace) -> PromptSpec:
    prompt_file = args.prompts if args.prompts is not None and _is_prompt_file(args.prompts) else None
    return PromptSpec(
        variant=args.variant,
        text=args.text,
        category=args.category,
        prompt_set=args.prompt_set,
        prompt_file=prompt_file,
    )


def settings_from_args(args: argparse.Namespace) -> FeatureSettings:
    return FeatureSettings(
        backend=args.backend,
        timestep=args.timestep,
        layer=args.layer,
        ensemble=args.ensemble,
        size=args.size,
        seed=args.seed,
    )


def localisation_from_args(args: argparse.Namespace) -> LocalisationSettings:
    return LocalisationSettings(method=args.localisation, sigma=args.sigma, temperature=args.temperature)


def announce_backend(matcher: Matcher, settings: FeatureSettings) -> str:
    """Resolve "auto" and say plainly on stderr when the weights-free backend stands in for SD."""
    backend = matcher.resolve_backend(settings.backend)
    if settings.backend == "auto" and backend == "sift":
        print(
            f"note: {matcher.sd_unavailable_reason()}\nnote: using the weights-free dense SIFT backend instead "
            f"(classical baseline, far less accurate than SD4Match).",
            file=sys.stderr,
        )
    return backend


# Options whose value may start with "-" (a point list such as "-3,5"); argparse would take it for an option.
NEGATIVE_VALUE_OPTIONS = ("--points",)
_NEGATIVE_NUMBER = re.compile(r"^-\.?\d")


def attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``["--points", "-3,5"]`` -> ``["--points=-3,5"]``, which argparse reads as the option's value.

    argparse treats any argument starting with "-" as an option unless it is a plain negative
    number, so ``--points "-3,5"`` would be refused; the ``=`` form is unambiguous.
    """
    joined: list[str] = []
    for argument in argv:
        if joined and joined[-1] in NEGATIVE_VALUE_OPTIONS and _NEGATIVE_NUMBER.match(argument):
            joined[-1] = f"{joined[-1]}={argument}"
        else:
            joined.append(argument)
    return joined


def parse_points(text: str) -> np.ndarray:
    """``"x,y;x,y"`` -> ``N x 2`` float64 (original source pixels)."""
    points = []
    for index, chunk in enumerate(part for part in text.replace("\n", ";").split(";") if part.strip()):
        values = chunk.replace(" ", "").split(",")
        try:
            if len(values) != 2:
                raise ValueError
            points.append((float(values[0]), float(values[1])))
        except ValueError:
            raise PointError(
                f"point {index} '{chunk.strip()}' is not 'x,y' (expected e.g. --points \"120,88;300,95\")"
            ) from None
    if not points:
        raise PointError('no points given (expected e.g. --points "120,88;300,95")')
    import numpy as np  # only once the points are good: a typo is reported without it

    return np.array(points, dtype=np.float64)


def require_at_least_one(args: argparse.Namespace, *names: str) -> None:
    """Refuse ``--name 0`` (or less) for counting options, before any data is read."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SettingsError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def _is_prompt_file(path: str) -> bool:
    return Path(path).suffix.lower() == ".pt"


def stage_printer() -> Progress:
    """Progress that prints each new stage name once to stderr (a fraction update prints nothing)."""
    last: list[str] = [""]

    def show(stage: str, _fraction: float) -> None:
        if stage != last[0]:
            print(f"  {stage}", file=sys.stderr)
            last[0] = stage

    return Progress(show)
