"""What the user waits for on a new pair, measured through :meth:`engine.matcher.Matcher.prepare`
(the path the app and every command take), on the benchmark's random-weight model:

* the first match on a new pair at E = 1, cold (both images: VAE and UNet);
* the first match on a new pair at a larger E with the progressive ensemble: the first partial
  match (after the first UNet batch of each image) and the final one;
* the next pair of a list after prefetch: its features were computed while the user stayed on
  the current pair, so its first match is a cache hit;
* a click while prefetch runs: the prefetch stops within one model block (the interrupt hooks of
  ``engine/models/interrupt.py``), then the click's match on the open pair.

Each wait covers prompt, features and the match of one point. Fresh matchers (empty caches) for
each cold row, after one untimed pair (kernel set-up); the images are random, 480 x 640, a new one
wherever a row must be cold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import Cancelled
from ..images import LoadedImage, image_from_array
from ..matcher import Matcher
from ..models.stable_diffusion import StableDiffusionParts
from ..prepared_pair import PartialPair, PreparedPair
from ..progress import Progress
from ..prompts.spec import PromptSpec
from ..settings import FeatureSettings

POINT = np.array([[320.0, 240.0]])
PROMPT = PromptSpec()


@dataclass(frozen=True)
class WaitOptions:
    """``ensemble``: E of the progressive rows; ``size``, ``timestep``, ``layer`` as the bench's;
    ``clicks``: clicks made while a prefetch runs (each stops a fresh one)."""

    ensemble: int
    size: int
    timestep: int
    layer: int
    clicks: int = 3


def wait_rows(parts: StableDiffusionParts, options: WaitOptions, log: Callable[[str], None]) -> list[dict[str, object]]:
    """The rows above, each ``{"what", "wait_s", ...}``."""
    images = _ImageSource()
    one = FeatureSettings(timestep=options.timestep, layer=options.layer, ensemble=1, size=options.size)
    many = FeatureSettings(timestep=options.timestep, layer=options.layer, ensemble=options.ensemble, size=options.size)
    rows: list[dict[str, object]] = []

    log("warm-up (untimed): one new pair at E=1")
    Matcher.from_parts(parts).prepare(images.new(), images.new(), PROMPT, one).match(POINT)
    log("first match on a new pair, E=1, cold")
    matcher = Matcher.from_parts(parts)
    source, target = images.new(), images.new()
    cold_stages: dict[str, float] = {}  # when each stage started
    cold, _ = _timed(lambda: matcher.prepare(source, target, PROMPT, one, _recorder(cold_stages)).match(POINT))
    rows.append({"what": "first match on a new pair, E=1, cold (VAE + UNet, both images)", "wait_s": cold})

    if options.ensemble > 1:
        log(f"first match on a new pair, E={options.ensemble}, progressive")
        first, final = _progressive(Matcher.from_parts(parts), images.new(), images.new(), many)
        rows.append(
            {
                "what": f"first match on a new pair, E={options.ensemble}, progressive: first partial match",
                "wait_s": first,
                "vs_e1_cold": first / cold,
            }
        )
        rows.append({"what": f"first match on a new pair, E={options.ensemble}, final", "wait_s": final})

    log("next pair after prefetch")
    following = images.new()
    stages: dict[str, float] = {}
    matcher.prepare(target, following, PROMPT, one, _recorder(stages))
    unet = f"UNet t={options.timestep}"
    vae_s = min(  # one VAE pass, the shortest of the three measured (the machine may be shared)
        cold_stages[f"source: {unet}"] - cold_stages["source: VAE latent"],
        cold_stages[f"target: {unet}"] - cold_stages["target: VAE latent"],
        stages[f"target: {unet}"] - stages["target: VAE latent"],
    )
    after, _ = _timed(lambda: matcher.prepare(target, following, PROMPT, one).match(POINT))
    rows.append({"what": "next pair after prefetch, E=1 (features computed ahead)", "wait_s": after})

    log(f"{options.clicks} clicks while a prefetch runs")
    open_pair = matcher.prepare(source, target, PROMPT, one)
    # Each click lands at a random moment of the prefetch's first VAE pass (one took vae_s above).
    moments = np.random.default_rng(3).uniform(0.1, 0.9, options.clicks) * vae_s
    clicks = [_click_during_prefetch(matcher, open_pair, images, one, float(after)) for after in moments]
    # A click that came after the prefetch had ended (a fast machine, a small model) stopped
    # nothing: the median is over the clicks that did, when any did.
    stopping = [seconds for seconds, preempted in clicks if preempted] or [seconds for seconds, _ in clicks]
    rows.append(
        {
            "what": "click while prefetch runs: prefetch stopped + match",
            "wait_s": float(np.median(stopping)),
            "max_s": max(stopping),
            "preempted": sum(preempted for _, preempted in clicks),
            "clicks": len(clicks),
        }
    )
    return rows


def _progressive(
    matcher: Matcher, source: LoadedImage, target: LoadedImage, settings: FeatureSettings
) -> tuple[float, float]:
    """(seconds to the first partial match, seconds to the final match) of one new pair."""
    start = time.perf_counter()
    first: list[float] = []

    def on_partial(partial: PartialPair) -> None:
        if not first:
            partial.pair.match(POINT)
            first.append(time.perf_counter() - start)

    matcher.prepare(source, target, PROMPT, settings, on_partial=on_partial).match(POINT)
    final = time.perf_counter() - start
    return (first[0] if first else final), final


def _click_during_prefetch(
    matcher: Matcher, open_pair: PreparedPair, images: _ImageSource, settings: FeatureSettings, after_s: float
) -> tuple[float, bool]:
    """Seconds from a click (the stop flag set ``after_s`` into the VAE pass of a prefetch of a new
    pair) to its match on the open pair: the prefetch's unwinding plus the match; and whether the
    click did stop the prefetch (False: it had already finished)."""
    clicked, encoding, stopped = threading.Event(), threading.Event(), threading.Event()
    preempted: list[bool] = []
    source, target = images.new(), images.new()

    def prefetch() -> None:
        progress = Progress(lambda stage, _: encoding.set() if "VAE" in stage else None, clicked.is_set)
        try:
            matcher.prepare(source, target, PROMPT, settings, progress)
        except Cancelled:
            preempted.append(True)
        stopped.set()

    worker = threading.Thread(target=prefetch, name="bench-prefetch")
    worker.start()
    encoding.wait()
    time.sleep(after_s)
    start = time.perf_counter()
    clicked.set()
    stopped.wait()
    open_pair.match(POINT)
    seconds = time.perf_counter() - start
    worker.join()
    return seconds, bool(preempted)


def _recorder(stages: dict[str, float]) -> Progress:
    """A reporter that notes when each stage started (``perf_counter`` seconds) into ``stages``."""
    return Progress(lambda stage, _: stages.setdefault(stage, time.perf_counter()))


def _timed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


class _ImageSource:
    """Distinct random 480 x 640 images (a new digest each: nothing of them is cached)."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(7)

    def new(self) -> LoadedImage:
        return image_from_array(self._rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.bench.waits``: these rows alone (no FLOP count, reference or float32 phase)."""
    import argparse

    import torch

    from ..models.weights import quiet_library_output
    from ..runtime import resolve_runtime
    from .pipelines import parts_from_random
    from .random_init import random_stable_diffusion

    parser = argparse.ArgumentParser(prog="python -m engine.bench.waits", description=main.__doc__)
    parser.add_argument("--architecture", choices=("sd2-1", "tiny"), default="sd2-1")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--ensemble", type=int, default=8)
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--clicks", type=int, default=3)
    args = parser.parse_args(argv)
    quiet_library_output()
    runtime = resolve_runtime(args.device, args.dtype)
    print(
        f"building the {args.architecture} architecture with random weights ({runtime.label}, "
        f"{torch.get_num_threads()} threads)",
        flush=True,
    )
    parts = parts_from_random(random_stable_diffusion(args.architecture), runtime, args.architecture)
    options = WaitOptions(args.ensemble, args.size, timestep=50, layer=1, clicks=args.clicks)
    rows = wait_rows(parts, options, lambda text: print(f"  {text}", flush=True))
    from .report import BenchReport, to_markdown_waits

    print(to_markdown_waits(BenchReport(rows=rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
