"""``sd4match match``: predict where source points land on a target image."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import (
    add_localisation_options,
    add_model_options,
    add_variant_options,
    announce_backend,
    localisation_from_args,
    matcher_from_args,
    parse_points,
    prompt_from_args,
    settings_from_args,
    stage_printer,
)
from .outputs import check_output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "match",
        help="match source points onto a target image",
        description="Predict where source points land on the target; write sd-correspondence JSON and a PNG.",
    )
    parser.add_argument("source", type=Path, help="source image")
    parser.add_argument("target", type=Path, help="target image")
    parser.add_argument("--points", required=True, help='source points in original pixels, "x,y;x,y"')
    parser.add_argument("--out", type=Path, required=True, help="output JSON (sd-correspondence schema)")
    parser.add_argument(
        "--render", type=Path, default=None, help="also write a PNG with matches and the first point's heatmap"
    )
    parser.add_argument(
        "--heatmaps",
        action="store_true",
        help="also write each point's similarity map as a .npy file in {stem}_heatmaps-XXXXXXXX/ beside --out",
    )
    add_variant_options(parser)
    add_localisation_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Everything checkable before the images and models load: one line of error, seconds early.
    points = parse_points(args.points)
    prompt, settings, localisation = prompt_from_args(args), settings_from_args(args), localisation_from_args(args)
    check_output_file(args.out, "--out")
    if args.render is not None:
        check_output_file(args.render, "--render")
    # Images, torch and the models load only now, after every check that needs none of them.
    from ..evaluation.distributed import per_pair_threads
    from ..export.from_matches import RunResult, matches_document
    from ..export.heatmaps import keyed_by_keypoint, save_with_heatmaps
    from ..frames import validate_points
    from ..images import load_image
    from ..preflight import check_before_loading
    from ..render import Panel, render_panels, save_png

    source, target = load_image(args.source), load_image(args.target)
    validate_points(points, source.width, source.height, f"the source image '{source.name}'")
    matcher = matcher_from_args(args)
    check_before_loading(matcher, [(prompt, settings)])
    announce_backend(matcher, settings)
    pair = matcher.prepare(source, target, prompt, settings, stage_printer())
    with per_pair_threads():  # as `propagate` and `eval`: the same result however many threads torch has
        result = pair.match(points, localisation)

    document = matches_document([RunResult("r1", pair, localisation, result)], category=args.category)
    if args.heatmaps:
        record = document.pairs[0]
        maps = {record.pair_id: {"r1": keyed_by_keypoint(record, pair.score_maps(points))}}
        save_with_heatmaps(document, maps, args.out)
    else:
        document.save(args.out)
    if args.render is not None:
        panels = [
            Panel(f"source: {source.name}", source.rgb, result.query_xy),
            Panel(
                f"target: {target.name}  [{pair.run['backend']}]",
                target.rgb,
                result.match_xy,
                heatmap=pair.score_maps(points[:1])[0],
                frame=pair.target.frame,
            ),
        ]
        save_png(render_panels(panels), args.render)

    print("point  source (x, y)        target (x, y)        confidence")
    for index, (src, trg, conf) in enumerate(zip(result.query_xy, result.match_xy, result.confidence, strict=True)):
        print(f"{index + 1:>5}  ({src[0]:8.2f}, {src[1]:8.2f})  ({trg[0]:8.2f}, {trg[1]:8.2f})  {conf:10.3f}")
    print(f"wrote {args.out}" + (f" and {args.render}" if args.render else ""))
    return 0
