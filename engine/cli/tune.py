"""``sd4match tune``: learn a Single, Class or CPM prompt on a dataset split or on your own annotations."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING

from ..datasets import DATASET_KINDS
from ..errors import SettingsError
from ..paths import prompt_library_home
from ..progress import Progress
from ..prompts.spec import LEARNED_VARIANTS
from ..settings import LOCALISATIONS, ModelSources
from ..training import TrainingConfig
from .options import add_model_options, require_at_least_one
from .outputs import check_output_folder

if TYPE_CHECKING:
    from ..training import EpochReport, StepReport, TrainingSet

EPILOG = """\
examples:
  sd4match tune single spair /data/SPair-71k --prompt-set my-spair --prompts prompts/
  sd4match tune class json session.json --val held-out.json --prompt-set birds --epochs 20 --batch-size 4
  accelerate launch --multi_gpu --num_processes 3 -m engine tune cpm spair /data/SPair-71k --prompt-set cpm-run
  sd4match match a.jpg b.jpg --points "120,88" --out m.json --variant single --prompt-set my-spair --prompts prompts/

The best prompt is written as {Single|Class}_SET_sd2-1_TokenEmbeds75/caption.pt or
CPM_SET_sd2-1_Pair-DINO-Feat-G25-C50/ckpt.pt inside --prompts (default: your prompt library),
with training.json (settings, data, history) and resume.pt beside it. Ctrl-C stops after the
current step, saving the state; run the same command with --resume to continue. On a machine
without GPUs, `accelerate launch --multi_gpu` still starts several CPU processes (gloo).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="learn a Single, Class or CPM prompt on annotated pairs",
        description="Prompt tuning as in the SD4Match paper (softmax at temperature 0.04 against a 7 x 7 Gaussian "
        "target, Adam at a constant rate, t = 261, ensemble 1); one CPU or GPU, or many GPUs under "
        "`accelerate launch`. --dtype chooses mixed precision (auto: float16 on CUDA, float32 elsewhere).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("variant", choices=LEARNED_VARIANTS, help="prompt kind to learn")
    parser.add_argument("dataset", choices=DATASET_KINDS, help="dataset kind (json: sd-correspondence exports)")
    parser.add_argument("root", nargs="+", type=Path, help="dataset folder; for json, files and/or folders")
    parser.add_argument("--prompt-set", required=True, help="name of the tuned set (letters, digits, '-')")
    _add_data_options(parser)
    _add_training_options(parser)
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--resume", action="store_true", help="continue the run saved in the prompt's folder")
    run_group.add_argument("--overwrite", action="store_true", help="replace an earlier run of this prompt set")
    add_model_options(
        parser,
        prompts_help="prompt library the tuned prompt is written to (default: your prompt library)",
        dtype_help="mixed precision of training (default: float16 on CUDA, float32 elsewhere)",
        cache=False,  # validation scores the prompt being tuned: nothing in it outlives the run
    )
    parser.set_defaults(run=run)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--train-split", default="trn", help="training split (default: %(default)s; json: ignored)")
    data.add_argument(
        "--val-split", default="val", help="validation split, or 'none' (default: %(default)s; json: ignored)"
    )
    data.add_argument(
        "--val", nargs="+", type=Path, default=None, help="validation pairs from other files or folders of this kind"
    )
    data.add_argument("--limit", type=int, default=None, help="train on N pairs spread evenly over the split")
    data.add_argument("--val-limit", type=int, default=None, help="validate on N pairs spread evenly")


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainingConfig("single", "x")
    training = parser.add_argument_group("training (defaults: the paper's)")
    training.add_argument("--epochs", type=int, default=defaults.epochs, help="default: %(default)s (PF-Pascal: 90)")
    training.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help="pairs per step, all processes (default: %(default)s)",
    )
    training.add_argument(
        "--micro-batch", type=int, default=defaults.micro_batch, help="pairs per forward pass (default: %(default)s)"
    )
    training.add_argument("--lr", type=float, default=defaults.learning_rate, help="default: %(default)s")
    training.add_argument(
        "--linear-lr",
        type=float,
        default=defaults.linear_learning_rate,
        help="CPM linear layers (default: %(default)s)",
    )
    training.add_argument("--timestep", type=int, default=defaults.timestep, help="default: %(default)s")
    training.add_argument("--layer", type=int, default=defaults.layer, help="UNet up block (default: %(default)s)")
    training.add_argument("--size", type=int, default=defaults.size, help="square input size S (default: %(default)s)")
    training.add_argument("--ensemble", type=int, default=defaults.ensemble, help="default: %(default)s")
    training.add_argument("--temperature", type=float, default=defaults.temperature, help="default: %(default)s")
    training.add_argument("--seed", type=int, default=defaults.seed, help="default: %(default)s")
    training.add_argument(
        "--selection",
        default=defaults.selection,
        choices=LOCALISATIONS,
        help="localisation of validation PCK (default: %(default)s, the official model selection)",
    )
    training.add_argument(
        "--alpha", type=float, default=defaults.alpha, help="validation PCK@alpha (default: %(default)s)"
    )
    training.add_argument(
        "--min-points", type=int, default=defaults.min_points, help="fewest training points (default: %(default)s)"
    )
    training.add_argument(
        "--save-every", type=int, default=defaults.save_every, help="steps between resume states (default: %(default)s)"
    )
    training.add_argument(
        "--log-every", type=int, default=defaults.log_every, help="steps between progress lines (default: %(default)s)"
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    require_at_least_one(args, "limit", "val_limit")
    check_output_folder(Path(args.prompts) if args.prompts is not None else prompt_library_home(), "--prompts")
    # Data readers, torch, accelerate and the models load only now, after every check that needs none of them.
    import torch

    from ..matcher import Matcher
    from ..runtime import Runtime, resolve_runtime
    from ..training import PromptTrainer, create_accelerator

    train, validation = data_from_args(args)
    device = resolve_runtime(args.device, "float32").device
    accelerator = create_accelerator(config, device)
    sources = ModelSources(sd=args.model, dinov2=args.dinov2, prompts=None)
    # Frozen weights stay float32; the accelerator's autocast provides the mixed precision.
    matcher = Matcher(sources, runtime=Runtime(accelerator.device, torch.float32))
    trainer = PromptTrainer(config, matcher, accelerator)
    main = accelerator.is_main_process
    if main:
        print(
            f"tuning {config.variant}/{config.prompt_set} on {len(train)} pairs"
            + (f", validating on {len(validation)}" if validation is not None else ", no validation pairs")
            + f" ({accelerator.num_processes} process(es), {accelerator.device.type}, "
            f"mixed precision {accelerator.mixed_precision})",
            file=sys.stderr,
        )
    with _graceful_stop(enabled=accelerator.num_processes == 1) as stop:
        result = trainer.fit(
            train,
            validation,
            args.prompts,
            resume=args.resume,
            overwrite=args.overwrite,
            on_step=_step_printer(config),
            on_epoch=_print_epoch,
            progress=Progress(cancel_requested=stop.is_set),
        )
    if not main:
        return 0
    if result.stopped:
        print(f"stopped at step {result.steps_done}/{result.total_steps}; continue with --resume", file=sys.stderr)
    if result.prompt_file is not None:
        library = result.prompt_file.parent.parent
        print(f"prompt: {result.prompt_file}\nsidecar: {result.sidecar}")
        print(
            f"use it with: sd4match match SOURCE TARGET --points X,Y --out OUT.json --variant {config.variant} "
            f"--prompt-set {config.prompt_set} --prompts {library}"
        )
    return 0


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    return TrainingConfig(
        variant=args.variant,
        prompt_set=args.prompt_set,
        epochs=args.epochs,
        batch_size=args.batch_size,
        micro_batch=args.micro_batch,
        learning_rate=args.lr,
        linear_learning_rate=args.linear_lr,
        timestep=args.timestep,
        layer=args.layer,
        size=args.size,
        ensemble=args.ensemble,
        temperature=args.temperature,
        seed=args.seed,
        selection=args.selection,
        alpha=args.alpha,
        precision=args.dtype,
        min_points=args.min_points,
        save_every=args.save_every,
        log_every=args.log_every,
    )


def data_from_args(args: argparse.Namespace) -> tuple[TrainingSet, TrainingSet | None]:
    """Training pairs, and validation pairs from --val, the validation split, or none."""
    from ..training import TrainingSet

    root = _dataset_root(args.dataset, args.root)
    train = TrainingSet.open(args.dataset, root, args.train_split).subset(args.limit)
    if args.val is not None:
        validation = TrainingSet.open(args.dataset, _dataset_root(args.dataset, args.val), args.val_split)
    elif args.dataset == "json" or args.val_split == "none":
        return train, None
    else:
        validation = TrainingSet.open(args.dataset, root, args.val_split)
    return train, validation.subset(args.val_limit)


def _dataset_root(kind: str, paths: list[Path]) -> Path | list[Path]:
    if kind == "json":
        return paths
    if len(paths) != 1:
        raise SettingsError(f"dataset '{kind}' takes one folder, got {len(paths)}")
    return paths[0]


def _step_printer(config: TrainingConfig) -> Callable[[StepReport], None]:
    recent: deque[float] = deque(maxlen=20)

    def show(report: StepReport) -> None:
        recent.append(report.seconds)
        if report.step % config.log_every and report.step not in (1, report.total_steps):
            return
        remaining = (report.total_steps - report.step) * fmean(recent)
        print(
            f"  step {report.step}/{report.total_steps} (epoch {report.epoch}/{config.epochs})  "
            f"loss {report.loss:.4f}  {report.seconds:.2f} s/step  ETA {remaining / 60:.1f} min",
            file=sys.stderr,
        )

    return show


def _print_epoch(report: EpochReport) -> None:
    score = f"validation PCK {100 * report.score:.2f}%" if report.score is not None else "no validation"
    kept = "kept" if report.improved else f"best stays epoch {report.best_epoch}"
    print(f"epoch {report.epoch}: train loss {report.train_loss:.4f}, {score} ({kept})", file=sys.stderr)


@contextlib.contextmanager
def _graceful_stop(enabled: bool) -> Iterator[threading.Event]:
    """First Ctrl-C: stop after the current step (state saved); second: abort at once.

    Only for one process: under a launcher, processes would stop at different steps.
    """
    stop = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
