"""``sd4match eval``: PCK of one or more variants on a dataset split, resumable and data-parallel."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datasets import DATASET_KINDS
from ..errors import SettingsError
from ..variants import Variant, parse_variants, require_stable_diffusion
from .options import (
    add_localisation_options,
    add_model_options,
    add_variant_options,
    announce_backend,
    localisation_from_args,
    matcher_from_args,
    prompt_from_args,
    require_at_least_one,
    settings_from_args,
    stage_printer,
)
from .outputs import check_output_file, check_output_folder

CHART_NAME = "pck.png"

if TYPE_CHECKING:
    from ..evaluation.distributed import ProcessGroup
    from ..evaluation.runner import VariantPlan
    from ..matcher import Matcher
    from ..settings import LocalisationSettings

EPILOG = """\
examples:
  sd4match eval spair /data/SPair-71k --out runs/spair --variants "single,class,cpm,text"
  sd4match eval json my-annotations/ --out runs/mine --limit 50
  accelerate launch --multi_gpu --num_processes 4 -m engine eval spair /data/SPair-71k --out runs/spair

Run the same command again to continue a stopped evaluation; results are saved under OUT/parts.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="PCK of prompt variants on SPair-71k, PF-Pascal, PF-Willow or your own annotations",
        description="PCK@0.05/0.1/0.15 per category and overall, in the squashed S x S frame (as the paper) and in "
        "original pixels; writes OUT/results.json, OUT/results.md and OUT/pck.png.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=DATASET_KINDS, help="dataset kind (json: sd-correspondence exports)")
    parser.add_argument("root", nargs="+", type=Path, help="dataset folder; for json, files and/or folders")
    parser.add_argument("--split", default="test", help="trn, val or test (default: %(default)s; json: ignored)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (also holds resumable results)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate N pairs spread evenly over the split")
    parser.add_argument(
        "--variants",
        default=None,
        help="several variants in one run, comma-separated kind[:argument][@option=value], kinds empty, "
        "text[:free text], single[:set], class[:category], cpm[:set], sift; options t=, layer=, ensemble=, "
        'seed=, size=; e.g. "single,class,cpm,text@t=261,sift"',
    )
    parser.add_argument(
        "--save-every", type=int, default=16, help="pairs per saved results part (default: %(default)s)"
    )
    add_variant_options(parser)
    add_localisation_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.dataset != "json" and len(args.root) != 1:
        raise SettingsError(f"dataset '{args.dataset}' takes one folder, got {len(args.root)}")
    require_at_least_one(args, "save_every", "limit")
    # Everything checkable before the models load: settings, output folder, data, prompts.
    localisation = localisation_from_args(args)
    check_output_folder(args.out, "--out")
    from ..evaluation.report import REPORT_NAMES

    for name in (*REPORT_NAMES, CHART_NAME):  # a folder in the way of a report fails now, not after the run
        check_output_file(args.out / name, "--out")
    # Data readers, torch and the models load only now, after every check that needs none of them.
    from ..datasets import open_dataset
    from ..evaluation.chart import pck_chart
    from ..evaluation.report import markdown_report, overall_line, results_document, write_reports
    from ..evaluation.runner import collect, plan, select_pairs
    from ..preflight import check_before_loading
    from ..render import save_png

    matcher, group = matcher_and_processes(args)
    variants = _variants(args, matcher)
    root = args.root if args.dataset == "json" else args.root[0]
    every = open_dataset(args.dataset, root, args.split)
    samples = select_pairs(every, args.limit)
    choices = [(variant.prompt, variant.settings) for variant in variants]
    check_before_loading(matcher, choices, {sample.category or None for sample in samples})
    if group.is_main:
        announce_backend(matcher, settings_from_args(args))
    dataset = _dataset_identity(args)

    plans = plan(samples, variants, matcher, localisation, args.out, dataset, group, args.save_every)
    group.wait()  # everyone has read the saved results before anyone adds to them
    elapsed = _compute(plans, matcher, localisation, group)
    group.wait()  # every process has saved its block
    if not group.is_main:
        return 0

    results = collect(plans, samples)
    report_dataset = dataset | {"pairs": len(samples), "pairs_in_split": len(every), "limit": args.limit}
    title = f"PCK on {args.dataset}" + ("" if args.dataset == "json" else f" {args.split}") + f" ({len(samples)} pairs)"
    document = results_document(results, report_dataset, localisation)
    json_path, markdown_path = write_reports(args.out, document, markdown_report(results, title))
    chart_path = args.out / CHART_NAME
    save_png(pck_chart(results, title=f"{title}: PCK@0.1, squashed frame, mean over pairs"), chart_path)

    for result in results:
        print(overall_line(result))
    todo, stats = sum(len(p.todo) for p in plans), matcher.features.stats
    rate = f"{todo / elapsed:.2f} pairs/s" if todo and elapsed > 0 else "nothing to compute"
    print(
        f"main process: computed {todo} pair-variant(s) in {elapsed:.1f} s ({rate}), feature maps {stats.misses} "
        f"extracted, {stats.hits} reused; {group.count} process(es) in all; "
        f"{sum(p.resumed for p in plans)} pair-variant(s) resumed from {args.out / 'parts'}"
    )
    print(f"wrote {json_path}, {markdown_path} and {chart_path}")
    return 0


def _compute(
    plans: list[VariantPlan], matcher: Matcher, localisation: LocalisationSettings, group: ProcessGroup
) -> float:
    """Score this process's pairs with a progress bar (main process only); returns the seconds it took."""
    from tqdm import tqdm

    from ..evaluation.runner import execute

    if any(p.todo and p.variant.settings.backend == "sd" for p in plans):
        matcher.stable_diffusion(stage_printer())  # before the clock starts: pairs/s measures the pairs
    total = sum(len(p.todo) for p in plans)
    bar = tqdm(total=total, unit="pair", file=sys.stderr, disable=not group.is_main, mininterval=1.0)
    started = time.perf_counter()
    try:
        execute(plans, matcher, localisation, on_pair=lambda p, _: (bar.set_description(p.variant.name), bar.update()))
    finally:
        bar.close()
    return time.perf_counter() - started


def matcher_and_processes(args: argparse.Namespace) -> tuple[Matcher, ProcessGroup]:
    """The matcher, on this process's own GPU when ``accelerate launch`` started several."""
    from ..evaluation.distributed import join_processes
    from ..matcher import Matcher

    matcher = matcher_from_args(args)
    on_gpu = matcher.runtime.device.type == "cuda"
    group = join_processes(cpu=not on_gpu)
    if on_gpu and group.count > 1:
        runtime = dataclasses.replace(matcher.runtime, device=group.device)
        matcher = Matcher(matcher.sources, runtime=runtime, disk_cache=matcher.disk_cache)
    return matcher, group


def _variants(args: argparse.Namespace, matcher: Matcher) -> list[Variant]:
    prompt, settings = prompt_from_args(args), settings_from_args(args)
    if args.variants:
        variants = parse_variants(args.variants, prompt, settings)
        require_stable_diffusion(variants, matcher)
        return variants
    name = "sift" if matcher.resolve_backend(settings.backend) == "sift" else prompt.label
    return [Variant(name=name, prompt=prompt, settings=settings)]


def _dataset_identity(args: argparse.Namespace) -> dict[str, Any]:
    roots = [str(path.expanduser().resolve()) for path in args.root]
    if args.dataset == "json":
        return {"kind": "json", "root": roots}
    return {"kind": args.dataset, "root": roots[0], "split": args.split}
