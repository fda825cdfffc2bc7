"""``sd4match compare``: the same source points under several variants, as a figure and JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PointError, SettingsError
from ..variants import EXPLORATORY_NOTE, parse_variants, require_stable_diffusion
from .options import (
    add_localisation_options,
    add_model_options,
    add_variant_options,
    localisation_from_args,
    matcher_from_args,
    parse_points,
    prompt_from_args,
    settings_from_args,
    stage_printer,
)
from .outputs import check_distinct_outputs, check_output_file

if TYPE_CHECKING:
    from ..export.from_matches import RunResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare prompt/feature variants on the same points",
        description=(
            "Match the same source points under several variants and render one target panel per variant "
            "(with the heatmap of one point) beside the source. Variants: comma-separated items "
            "kind[:argument][@option=value...]; kinds empty, text[:free text], single[:set], class[:category], "
            "cpm[:set], sift; options t=, layer=, ensemble=, seed=, size=, ts=50+200 (multi-timestep), "
            "dual or dual=LAYER:T (dual-layer; the report uses @t=261 for untrained prompts). "
            'Example: "single,class:cat,cpm,text,text@t=261@dual".'
        ),
    )
    parser.add_argument("source", type=Path, help="source image")
    parser.add_argument("target", type=Path, help="target image")
    parser.add_argument("--points", required=True, help='source points in original pixels, "x,y;x,y"')
    parser.add_argument("--variants", required=True, help='e.g. "single,class:cat,cpm,text"')
    parser.add_argument("--out", type=Path, required=True, help="output figure (PNG)")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write every variant's predictions (sd-correspondence)"
    )
    parser.add_argument(
        "--heatmaps",
        action="store_true",
        help="with --json: also write every point's similarity map per variant as .npy files in a folder beside it",
    )
    parser.add_argument("--heatmap-point", type=int, default=1, help="which point's heatmap the panels show (1-based)")
    parser.add_argument(
        "--columns", type=int, default=4, help="panels per row, the source included (default: %(default)s)"
    )
    add_variant_options(parser)
    add_localisation_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Everything checkable before the images and models load: one line of error, seconds early.
    points = parse_points(args.points)
    if args.heatmaps and args.json is None:
        raise SettingsError("--heatmaps needs --json: the heatmap files are named in that JSON")
    if not 1 <= args.heatmap_point <= len(points):
        raise PointError(f"--heatmap-point {args.heatmap_point} is not one of the {len(points)} points")
    if args.columns < 1:
        raise SettingsError(f"--columns must be at least 1, got {args.columns}")
    variants = parse_variants(args.variants, prompt_from_args(args), settings_from_args(args))
    localisation = localisation_from_args(args)
    check_output_file(args.out, "--out")
    if args.json is not None:
        check_output_file(args.json, "--json")
        if args.heatmaps:
            from ..export.heatmaps import check_heatmaps_destination

            check_heatmaps_destination(args.json)
    check_distinct_outputs({"--out": args.out, "--json": args.json})
    # Images, torch and the models load only now, after every check that needs none of them.
    from ..export.from_matches import RunResult, matches_document
    from ..export.heatmaps import keyed_by_keypoint, save_with_heatmaps
    from ..frames import validate_points
    from ..images import load_image
    from ..preflight import check_before_loading
    from ..render import Panel, render_grid, save_png

    source, target = load_image(args.source), load_image(args.target)
    validate_points(points, source.width, source.height, f"the source image '{source.name}'")
    matcher = matcher_from_args(args)
    require_stable_diffusion(variants, matcher)
    check_before_loading(matcher, [(variant.prompt, variant.settings) for variant in variants])

    from ..comparison import compare_variants

    runs, panels, heatmaps = [], [Panel(f"source: {source.name}", source.rgb, points)], {}
    heat_point = points[args.heatmap_point - 1 : args.heatmap_point]
    for answer in compare_variants(matcher, source, target, variants, points, localisation, stage_printer()):
        variant, pair, result = answer.variant, answer.pair, answer.result
        runs.append(RunResult(variant.name, pair, localisation, result))
        if args.heatmaps:
            heatmaps[variant.name] = pair.score_maps(points)
        backend = pair.run["backend"]
        title = f"{variant.name} [{backend}]" + (" (exploratory)" if variant.exploratory else "")
        panels.append(Panel(title, target.rgb, result.match_xy, pair.score_maps(heat_point)[0], pair.target.frame))

    save_png(render_grid(panels, args.columns), args.out)
    if args.json is not None:
        document = matches_document(runs, category=args.category)
        if args.heatmaps:
            record = document.pairs[0]
            by_run = {run: keyed_by_keypoint(record, maps) for run, maps in heatmaps.items()}
            save_with_heatmaps(document, {record.pair_id: by_run}, args.json)
        else:
            document.save(args.json)
    _print_table(runs, target.width, target.height)
    if any(variant.exploratory for variant in variants):
        print(f"note: dual-layer and multi-timestep variants are {EXPLORATORY_NOTE}")
    print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0


def _print_table(runs: list[RunResult], width: int, height: int) -> None:
    import numpy as np

    from ..comparison import prediction_spread

    predictions = np.stack([run.result.match_xy for run in runs])
    spread, fraction = prediction_spread(predictions, width, height)
    print("point  " + "  ".join(f"{run.run_id[:24]:>24}" for run in runs) + "   spread (px, fraction)")
    for index in range(predictions.shape[1]):
        cells = [
            f"({x:7.1f},{y:7.1f}) {conf:4.2f}"
            for (x, y), conf in ((run.result.match_xy[index], run.result.confidence[index]) for run in runs)
        ]
        print(
            f"{index + 1:>5}  "
            + "  ".join(f"{cell:>24}" for cell in cells)
            + f"   {spread[index]:7.1f} {fraction[index]:.3f}"
        )
