"""``sd4match bench`` runs end to end (on the tiny architecture; the real one is for docs/benchmarks.md)."""

from __future__ import annotations

from engine.bench.report import to_markdown
from engine.bench.run import BenchOptions, run_benchmark


def test_bench_reports_every_phase():
    options = BenchOptions(
        architecture="tiny", device="cpu", dtype="bfloat16", ensembles=(1, 2), size=128, clicks=20, repeats=2
    )
    report = run_benchmark(options, log=lambda text: None)
    assert report.flops["unet_truncated"] < report.flops["unet_full"]
    pipelines = [row.get("pipeline") for row in report.rows]
    assert pipelines.count("reference") == 2 and pipelines.count("engine") == 4 and "switch" in pipelines
    assert all(row["peak_rss_gb"] > 0 for row in report.rows if "peak_rss_gb" in row)
    clicks = [row for row in report.rows if "median_ms" in row]
    assert len(clicks) == 2 and all(0 < row["median_ms"] <= row["p95_ms"] for row in clicks)
    assert report.machine["timed runs per row (median)"] == "2"
    markdown = to_markdown(report)
    assert "| reference-style, float32, E=2 |" in markdown and "speed-up" in markdown
