"""Formatting a :class:`~engine.bench.run.BenchReport` as Markdown (pasted into docs/benchmarks.md)."""

from __future__ import annotations

from .run import BenchReport


def compute_seconds(report: BenchReport, row: dict[str, object], dtype: str) -> float | None:
    """FLOPs of a row's work divided by the measured GEMM rate in ``dtype``: its compute limit."""
    flops = report.flops
    ensemble = int(row.get("ensemble", 1))  # type: ignore[arg-type]
    work = {
        "reference": flops["vae_encoder"] + ensemble * flops["unet_full"],
        "engine": flops["vae_encoder"] + ensemble * flops["unet_truncated"],
        "engine-warm": ensemble * flops["unet_truncated"],
    }.get(str(row.get("pipeline")))
    rate = report.throughput.get(dtype)
    return work / rate if work is not None and rate else None


def to_markdown(report: BenchReport) -> str:
    machine = ", ".join(f"{key} {value}" for key, value in report.machine.items())
    low = next(key for key in report.throughput if key != "float32")
    lines = [
        f"Machine: {machine}.",
        "",
        "| FLOPs per image and noise sample | TFLOP |",
        "|---|---|",
        *(f"| {name.replace('_', ' ')} | {value / 1e12:.3f} |" for name, value in report.flops.items()),
        "",
        "| measured dense GEMM throughput | TFLOP/s |",
        "|---|---|",
        *(f"| {dtype} | {rate / 1e12:.3f} |" for dtype, rate in report.throughput.items()),
        "",
        f"| extraction, per image | seconds | peak RSS (GB) | compute limit fp32 (s) | compute limit {low} (s) |",
        "|---|---|---|---|---|",
    ]
    reference = {row.get("ensemble"): row["seconds"] for row in report.rows if row.get("pipeline") == "reference"}
    # The reference rows come first in the table, whatever order they were measured in.
    for row in sorted(report.rows, key=lambda row: row.get("pipeline") != "reference"):
        if "seconds" not in row:
            continue
        limits = [compute_seconds(report, row, dtype) for dtype in ("float32", low)]
        limit_text = " | ".join(f"{value:.2f}" if value is not None else "" for value in limits)
        speedup = ""
        if row.get("pipeline") in ("engine", "engine-warm") and row.get("ensemble") in reference:
            speedup = f" (speed-up {reference[row['ensemble']] / row['seconds']:.1f}x)"  # type: ignore[operator]
        peak = f"{row['peak_rss_gb']:.2f}" if row.get("peak_rss_gb") is not None else ""
        lines.append(f"| {row['what']}{speedup} | {row['seconds']:.2f} | {peak} | {limit_text} |")
    lines += ["", "| per click (cached features) | median (ms) | p95 (ms) |", "|---|---|---|"]
    for row in report.rows:
        if "median_ms" in row:
            lines.append(f"| {row['what']} | {row['median_ms']:.2f} | {row['p95_ms']:.2f} |")
    return "\n".join(lines) + "\n" + to_markdown_waits(report)


def to_markdown_waits(report: BenchReport) -> str:
    """The table of :mod:`engine.bench.waits` rows (empty when the report has none)."""
    waits = [row for row in report.rows if "wait_s" in row]
    if not waits:
        return ""
    lines = ["", "| a new pair, one point (prompt, features, match) | seconds | note |", "|---|---|---|"]
    lines += [f"| {row['what']} | {row['wait_s']:.3f} | {_wait_note(row)} |" for row in waits]
    return "\n".join(lines) + "\n"


def _wait_note(row: dict[str, object]) -> str:
    if "vs_e1_cold" in row:
        return f"{row['vs_e1_cold']:.2f}x the E=1 cold time"
    if "model_passes" in row:
        return f"{row['model_passes']} VAE or UNet passes"
    if "p95_s" in row:
        return f"median of {row['clicks']} clicks; p95 {row['p95_s']:.3f} s, max {row['max_s']:.3f} s"
    return ""
