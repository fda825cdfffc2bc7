"""Time to the first match in a new process, with the feature cache on disk cold and warm.

``python -m engine.bench.disk_cache --architecture tiny`` saves a random-weight model (see
:mod:`engine.bench.random_init`) into a temporary folder, then runs ``sd4match match`` on the demo
pair as a new process, ``--repeats`` times each way: cold (the cache emptied first) and warm (the
entries of the run before). The time is the whole process, from start to the printed match, the
median of the repeats. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"


def time_match(model: Path, cache: Path, size: int, ensemble: int, out: Path) -> float:
    """Seconds of one ``sd4match match`` process on the demo pair (float32, CPU)."""
    command = [
        sys.executable, "-m", "engine", "match", str(DEMO / "astronaut.jpg"), str(DEMO / "grace_hopper.jpg"),
        "--points", "200,180", "--out", str(out), "--model", str(model), "--backend", "sd",
        "--device", "cpu", "--dtype", "float32", "--size", str(size), "--ensemble", str(ensemble),
    ]  # fmt: skip
    environment = os.environ | {"SD4MATCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=("tiny", "sd2-1"), default="tiny")
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--ensemble", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from ..disk_cache import DiskCache
    from .random_init import random_stable_diffusion, save_stable_diffusion

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model = save_stable_diffusion(random_stable_diffusion(args.architecture, seed=0), folder / "model")
        cache = DiskCache(folder / "cache")
        cold, warm = [], []
        for _ in range(args.repeats):
            cache.clear()
            cold.append(time_match(model, cache.root, args.size, args.ensemble, folder / "out.json"))
            warm.append(time_match(model, cache.root, args.size, args.ensemble, folder / "out.json"))
        print(f"| {args.architecture}, S = {args.size}, E = {args.ensemble} | cold | warm |")
        print("|---|---|---|")
        cold_s, warm_s = statistics.median(cold), statistics.median(warm)
        print(f"| new process to first match, median of {args.repeats} | {cold_s:.2f} s | {warm_s:.2f} s |")
        print(f"\ncache after a run: {cache.info().summary()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
