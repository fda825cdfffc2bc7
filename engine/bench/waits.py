"""What the user waits for on a new pair, measured through :meth:`engine.matcher.Matcher.prepare`
(the path the app and every command take), on the benchmark's random-weight model:

* the first match on a new pair at E = 1, cold (both images: VAE and UNet);
* the first match on a new pair at a larger E with the progressive ensemble: the first partial
  match (after the first UNet batch of each image) and the final one;
* the same pair again in a new process: a fresh matcher (empty memory caches, as a new process
  has) over the feature cache on disk that the first computation of the pair filled; its first
  match must run no VAE or UNet pass (the row counts the passes it ran);
* the next pair of a list after prefetch: its features were computed while the user stayed on
  the current pair, so its first match is a cache hit;
* a click while prefetch runs: the click's match on the open (prepared) pair, on a thread of its
  own with one torch thread, beside a prefetch of a new pair that keeps running on another, as the
  app's query lane answers it (``sd4match_gui/worker/query_worker.py``).

Each wait covers prompt, features and the match of one point. Fresh matchers (empty caches) for
each cold row, after one untimed pair (kernel set-up); the images are random, 480 x 640, a new one
wherever a row must be cold.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..disk_cache import DiskCache
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
    ``clicks``: clicks made while a prefetch runs (0.05 s apart)."""

    ensemble: int
    size: int
    timestep: int
    layer: int
    clicks: int = 20


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
    cold, _ = _timed(lambda: matcher.prepare(source, target, PROMPT, one).match(POINT))
    rows.append({"what": "first match on a new pair, E=1, cold (VAE + UNet, both images)", "wait_s": cold})

    log("the same pair again, a new process's caches over the feature cache on disk")
    rows.append(_pair_from_disk(parts, source, target, one))

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
    matcher.prepare(target, following, PROMPT, one)
    after, _ = _timed(lambda: matcher.prepare(target, following, PROMPT, one).match(POINT))
    rows.append({"what": "next pair after prefetch, E=1 (features computed ahead)", "wait_s": after})

    log(f"{options.clicks} clicks while a prefetch runs")
    open_pair = matcher.prepare(source, target, PROMPT, one)
    clicks = _clicks_beside_prefetch(matcher, open_pair, (images.new(), images.new()), one, options.clicks)
    rows.append(
        {
            "what": "click while prefetch runs: its match beside the running prefetch",
            "wait_s": float(np.median(clicks)),
            "p95_s": float(np.percentile(clicks, 95)),
            "max_s": max(clicks),
            "clicks": len(clicks),
        }
    )
    return rows


def _pair_from_disk(
    parts: StableDiffusionParts, source: LoadedImage, target: LoadedImage, settings: FeatureSettings
) -> dict[str, object]:
    """The row of a pair computed before and asked again in a new process: one matcher computes it
    into an empty disk cache (untimed), a fresh one over that cache is timed to its first match."""
    with tempfile.TemporaryDirectory(prefix="sd4match-bench-cache-") as folder:
        disk = DiskCache(Path(folder))
        Matcher.from_parts(parts, disk_cache=disk).prepare(source, target, PROMPT, settings)
        stages: list[str] = []
        fresh = Matcher.from_parts(parts, disk_cache=disk)
        recorder = Progress(lambda stage, _fraction: stages.append(stage))
        seconds, _ = _timed(lambda: fresh.prepare(source, target, PROMPT, settings, recorder).match(POINT))
    passes = sum("VAE" in stage or "UNet" in stage for stage in stages)
    return {
        "what": "the same pair again in a new process, E=1 (feature cache on disk; interpreter start excluded)",
        "wait_s": seconds,
        "model_passes": passes,
    }


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


def _clicks_beside_prefetch(
    matcher: Matcher,
    open_pair: PreparedPair,
    pair: tuple[LoadedImage, LoadedImage],
    settings: FeatureSettings,
    count: int,
) -> list[float]:
    """Seconds of up to ``count`` clicks' matches on ``open_pair``, 0.05 s apart, made on this thread
    with one torch thread while another thread prefetches ``pair`` (never stopped); only clicks that
    ended before the prefetch did count (at least one is made)."""
    running, ended = threading.Event(), threading.Event()

    def prefetch() -> None:
        try:
            matcher.prepare(*pair, PROMPT, settings, Progress(lambda _stage, _fraction: running.set()))
        finally:
            running.set()
            ended.set()

    worker = threading.Thread(target=prefetch, name="bench-prefetch")
    worker.start()
    running.wait()  # the prefetch thread has made its first torch call with the process's thread count
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-click maths on one thread, as the app's lane and engine thread do
    seconds: list[float] = []
    try:
        while len(seconds) < count and not (ended.is_set() and seconds):
            took, _ = _timed(lambda: open_pair.match(POINT))
            if not ended.is_set() or not seconds:
                seconds.append(took)
            time.sleep(0.05)
    finally:
        torch.set_num_threads(threads)
        worker.join()
    return seconds


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
    parser.add_argument("--clicks", type=int, default=20)
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
