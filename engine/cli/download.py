"""``sd4match download``: fetch only the files the engine needs, with progress."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..models.weights import download_weights
from ..settings import DEFAULT_DINOV2_MODEL, DEFAULT_SD_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download Stable Diffusion 2-1 and DINOv2 weights",
        description=(
            "Fetch the SD2-1 UNet, VAE, text encoder, tokenizer and scheduler (about 5.2 GB) and DINOv2 "
            "(about 350 MB) into the Hugging Face cache (HF_HOME), or into --to folders."
        ),
    )
    parser.add_argument("--sd", default=DEFAULT_SD_MODEL, help="hub id of a diffusers SD2-1 (default: %(default)s)")
    parser.add_argument("--dinov2", default=DEFAULT_DINOV2_MODEL, help="hub id of DINOv2 (default: %(default)s)")
    parser.add_argument("--only", choices=("sd", "dinov2"), default=None, help="fetch just one of the two")
    parser.add_argument(
        "--to", type=Path, default=None, help="download into this folder (sd/ and dinov2/ inside) instead of the cache"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for kind, source in (("sd", args.sd), ("dinov2", args.dinov2)):
        if args.only not in (None, kind):
            continue
        print(f"downloading {kind} from {source} ...")
        local_dir = args.to / kind if args.to is not None else None
        located = download_weights(source, kind, local_dir=local_dir)
        option = "--model" if kind == "sd" else "--dinov2"
        hint = f" (use {option} {located.folder})" if local_dir else ""
        print(f"{kind}: ready in {located.folder}{hint}")
    return 0
