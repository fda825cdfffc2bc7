"""``sd4match propagate``: predict a template's keypoints on many images, resumable and data-parallel."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..collections import DEFAULT_MAX_CYCLE_ERROR, DEFAULT_MIN_CONFIDENCE
from ..errors import EngineError, SettingsError
from .options import (
    add_localisation_options,
    add_model_options,
    add_variant_options,
    announce_backend,
    localisation_from_args,
    prompt_from_args,
    require_at_least_one,
    settings_from_args,
    stage_printer,
)
from .outputs import check_output_file

if TYPE_CHECKING:
    from ..collections.review import ReviewThresholds
    from ..collections.template import Template
    from ..evaluation.store import ResultStore
    from ..images import LoadedImage

EPILOG = """\
examples:
  sd4match propagate labelled.json photos/ --out birds.json --coco birds_coco.json
  sd4match propagate person_keypoints.json a.jpg b.jpg --out people.json --backend sift
  accelerate launch --multi_gpu --num_processes 4 -m engine propagate labelled.json photos/ --out birds.json

TEMPLATE: an sd-correspondence or session file (its first pair's source image and keypoints) or a
COCO keypoints file (its first annotated image). Run the same command again to continue a stopped
run; finished images are saved in OUT's folder under {OUT stem}_resume/.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "propagate",
        help="predict a template's named keypoints on every image of a collection",
        description="Match the template's keypoints onto every target image (as `sd4match match` does), with "
        "each prediction's confidence and cycle error; write one sd-correspondence pair per target.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("template", type=Path, help="sd-correspondence / session JSON or COCO keypoints JSON")
    parser.add_argument("targets", nargs="+", type=Path, help="target images and/or folders of images")
    parser.add_argument("--out", type=Path, required=True, help="output JSON (sd-correspondence schema)")
    parser.add_argument("--coco", type=Path, default=None, help="also write a COCO keypoints file")
    parser.add_argument("--save-every", type=int, default=16, help="images per saved part (default: %(default)s)")
    group = parser.add_argument_group("review flag (counted in the summary)")
    group.add_argument(
        "--max-cycle-error",
        type=float,
        default=DEFAULT_MAX_CYCLE_ERROR,
        help="flag above this cycle error, a fraction of the template's longer side (default: %(default)s)",
    )
    group.add_argument(
        "--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE, help="flag below this (default: %(default)s)"
    )
    add_variant_options(parser)
    add_localisation_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    template, template_image, targets, thresholds = _validated(args)
    prompt, settings, localisation = prompt_from_args(args), settings_from_args(args), localisation_from_args(args)
    # Torch, the data and the models load only now, after every check that needs none of them.
    from tqdm import tqdm

    from ..collections.propagate import PropagatedTarget, pair_ids, propagate_to, target_key
    from ..errors import ImageError
    from ..evaluation.distributed import shard
    from ..evaluation.runner import results_identity
    from ..evaluation.store import ResultStore, results_folder
    from ..images import load_image
    from ..preflight import check_before_loading
    from ..variants import Variant
    from .eval import matcher_and_processes

    matcher, group = matcher_and_processes(args)
    check_before_loading(matcher, [(prompt, settings)], [args.category or template.category])
    if group.is_main:
        announce_backend(matcher, settings)
    settings = dataclasses.replace(settings, backend=matcher.resolve_backend(settings.backend))
    job = _job(template, template_image, args)
    identity = results_identity(Variant("propagate", prompt, settings), localisation, matcher, job)
    folder = results_folder(args.out.parent / f"{args.out.stem}_resume", "propagate", identity)
    store = ResultStore(folder, identity, group.index, args.save_every, record=PropagatedTarget)
    ids = dict(zip(map(target_key, targets), pair_ids(template.image_path, targets), strict=True))
    done = store.completed()
    remaining = [path for path in targets if target_key(path) not in done]
    todo = shard(remaining, group.index, group.count)
    group.wait()  # everyone has read the saved results before anyone adds to them

    if todo and settings.backend == "sd":
        matcher.stable_diffusion(stage_printer())
    bar = tqdm(total=len(todo), unit="image", file=sys.stderr, disable=not group.is_main, mininterval=1.0)
    try:
        for path in todo:
            try:
                target = load_image(path)
            except ImageError as exc:
                print(f"sd4match propagate: skipped {path.name}: {exc}", file=sys.stderr)
                continue
            finally:
                bar.update()
            saved = propagate_to(
                matcher, template, template_image, target, ids[target_key(path)], prompt, settings, localisation,
                args.category or template.category,
            )  # fmt: skip
            store.add(saved)
    finally:
        bar.close()
        store.flush()
    group.wait()  # every process has saved its block
    if not group.is_main:
        return 0
    return _write(args, template, targets, store, thresholds, len(targets) - len(remaining))


def _write(
    args: argparse.Namespace,
    template: Template,
    targets: list[Path],
    store: ResultStore,
    thresholds: ReviewThresholds,
    resumed: int,
) -> int:
    """Main process: the collection in target order, the COCO file, a summary; 1 if an image failed."""
    from ..collections.coco import write_collection_coco
    from ..collections.propagate import collection_document, target_key

    saved = store.completed()
    finished = [saved[key] for key in map(target_key, targets) if key in saved]
    failed = [path for path in targets if target_key(path) not in saved]
    document = collection_document(finished)
    document.save(args.out)
    if args.coco is not None:
        write_collection_coco(document, template, args.coco)

    points = [k.predictions[0] for pair in document.pairs for k in pair.keypoints]
    side = max(document.pairs[0].source.width, document.pairs[0].source.height) if document.pairs else 1
    flagged = thresholds.flagged([p.cycle_error for p in points], [p.confidence for p in points], side).sum()
    print(
        f"{len(finished)} image(s) annotated ({resumed} resumed from {store.folder}), {len(failed)} skipped; "
        f"{flagged} of {len(points)} point(s) flagged for review (cycle error > {thresholds.max_cycle_error:g} "
        f"x {side} px or confidence < {thresholds.min_confidence:g})"
    )
    if failed:
        print(f"sd4match propagate: could not read {', '.join(p.name for p in failed)}", file=sys.stderr)
    print(f"wrote {args.out}" + (f" and {args.coco}" if args.coco else ""))
    return 1 if failed else 0


def _validated(args: argparse.Namespace) -> tuple[Template, LoadedImage, list[Path], ReviewThresholds]:
    """Everything checkable before a model loads: template, targets, output paths, thresholds."""
    from ..collections.propagate import find_targets, target_key
    from ..collections.review import ReviewThresholds
    from ..collections.template import read_template

    require_at_least_one(args, "save_every")
    if not 0 <= args.min_confidence <= 1 or not args.max_cycle_error >= 0:
        raise SettingsError("--min-confidence must be in [0, 1] and --max-cycle-error at least 0")
    template = read_template(args.template)
    template_image = template.load_image()
    template_key = target_key(template.image_path)
    targets = [path for path in find_targets(args.targets) if target_key(path) != template_key]
    if not targets:
        raise EngineError("no target images besides the template image")
    for option, path in (("--out", args.out), ("--coco", args.coco)):
        if path is not None:
            check_output_file(path, option)
    return template, template_image, targets, ReviewThresholds(args.max_cycle_error, args.min_confidence)


def _job(template: Template, image: LoadedImage, args: argparse.Namespace) -> dict[str, object]:
    """What, besides the variant, the saved results depend on: the template and the recorded category."""
    return {
        "kind": "propagate",
        "template": str(template.image_path.resolve()),
        "template_sha256": image.digest,
        "points": [[point.id, point.label, *point.xy] for point in template.points],
        "category": args.category or template.category,
    }
