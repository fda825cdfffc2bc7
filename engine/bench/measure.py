"""Measuring tools: wall time, peak resident memory per phase, FLOPs, and matmul throughput."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

STATM = Path("/proc/self/statm")


def resident_bytes() -> int:
    """Current resident set size of this process (Linux /proc; elsewhere the lifetime peak)."""
    if STATM.exists():
        import os

        return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class PeakMemory:
    """Peak RSS seen while a ``track_peak`` block ran, sampled every 5 ms."""

    peak_bytes: int = 0

    @property
    def gigabytes(self) -> float:
        return self.peak_bytes / 1e9


@contextlib.contextmanager
def track_peak() -> Iterator[PeakMemory]:
    result = PeakMemory(resident_bytes())
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result.peak_bytes = max(result.peak_bytes, resident_bytes())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result.peak_bytes = max(result.peak_bytes, resident_bytes())


def timed(function: Callable[[], Any], repeats: int = 1, warmup: int = 0) -> tuple[float, Any]:
    """Median wall time in seconds over ``repeats`` runs after ``warmup`` runs, and the last result."""
    result = None
    for _ in range(warmup):
        result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def count_flops(function: Callable[[], Any]) -> int:
    """FLOPs (multiply-add = 2) of matmuls, convolutions and attention that ``function`` runs."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        function()
    return int(counter.get_total_flops())


def matmul_throughput(dtype: torch.dtype, device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """Measured dense GEMM rate in FLOP/s (``size``-square matrices, median of ``repeats``)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)

    def run() -> None:
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    seconds, _ = timed(run, repeats=repeats, warmup=2)
    return 2 * size**3 / seconds
