"""Time per ensemble member of the engine's truncated UNet pass at several batch sizes.

The ensemble's members run through :meth:`StableDiffusionFeatures.unet` in batches of
``max_batch``; this measures what one member costs at batch 1, 2, 4 on the benchmark's
random-weight model (768 px, t = 50, layer 1, the runtime's precision). Batch sizes alternate
(1, 2, 4, 1, 2, 4, ...) so that a shared machine's load drifts into every size alike; the
report gives the median and the spread per size and the load average before and after.
``--modules`` adds one pass per size timed module by module (forward hooks on the UNet's
blocks and their attentions and resnets), to say where a larger batch loses.

    python -m engine.bench.unet_batch --rounds 5 --batches 1 2 4 --modules
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from ..features.stable_diffusion import StableDiffusionFeatures
from ..runtime import RuntimeOptions, configure_process, resolve_runtime
from .pipelines import parts_from_random
from .random_init import random_stable_diffusion


def member_seconds(run: Callable[[int], object], batches: list[int], rounds: int) -> dict[int, list[float]]:
    """Seconds per member of ``run(batch)``, ``rounds`` times for each batch size, sizes alternating."""
    times: dict[int, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for batch in batches:
            start = time.perf_counter()
            run(batch)
            times[batch].append((time.perf_counter() - start) / batch)
    return times


@contextmanager
def module_timer(modules: dict[str, torch.nn.Module]) -> Iterator[dict[str, float]]:
    """Wall seconds spent in each named module while the context is open (forward hooks)."""
    spent: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    handles = []
    for name, module in modules.items():

        def before(_module, _inputs, name=name):
            started[name] = time.perf_counter()

        def after(_module, _inputs, _output, name=name):
            spent[name] += time.perf_counter() - started.pop(name)

        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield spent
    finally:
        for handle in handles:
            handle.remove()


def timed_modules(unet: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The blocks the truncated pass runs, their resnets and their transformers' self-attention,
    cross-attention and feed-forward layers, by qualified name."""
    wanted = re.compile(
        r"(down_blocks\.\d+|mid_block|up_blocks\.[01])"
        r"(\.resnets\.\d+|\.attentions\.\d+\.transformer_blocks\.\d+\.(attn1|attn2|ff))?"
    )
    return {name: module for name, module in unet.named_modules() if wanted.fullmatch(name)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="sd2-1")
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--timestep", type=int, default=50)
    parser.add_argument("--layer", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modules", action="store_true", help="also time each block once per batch size")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # lines show as they come when written to a file

    configure_process(RuntimeOptions.from_environment(), "cpu")
    runtime = resolve_runtime("cpu", "auto")
    parts = parts_from_random(random_stable_diffusion(args.architecture), runtime, args.architecture)
    backend = StableDiffusionFeatures(parts)
    latent = args.size // 8
    states = torch.randn(1, 77, parts.unet.config.cross_attention_dim) * 0.5
    noisy = torch.randn(max(args.batches), 4, latent, latent)

    def run(batch: int) -> torch.Tensor:
        return backend.unet(noisy[:batch], args.timestep, states, args.layer)

    print(f"{runtime.label}, {torch.get_num_threads()} threads, load before {os.getloadavg()}")
    member_seconds(run, args.batches, 1)  # warm-up, untimed
    times = member_seconds(run, args.batches, args.rounds)
    print(f"load after {os.getloadavg()}")
    for batch in args.batches:
        values = times[batch]
        print(
            f"batch {batch}: {statistics.median(values):.3f} s per member (median of {len(values)}; "
            f"min {min(values):.3f}, max {max(values):.3f}; all {[round(v, 3) for v in values]})"
        )
    if args.modules:
        modules = timed_modules(parts.unet)
        per_batch = {}
        for batch in args.batches:
            with module_timer(modules) as spent:
                run(batch)
            per_batch[batch] = dict(spent)
        print("module: seconds per member at batch " + " / ".join(map(str, args.batches)))
        for name in modules:
            cells = " / ".join(f"{per_batch[b][name] / b:.3f}" for b in args.batches)
            print(f"  {name}: {cells}")


if __name__ == "__main__":
    main()
