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


def test_bench_reports_the_waits_on_a_new_pair():
    options = BenchOptions(
        architecture="tiny", device="cpu", dtype="float32", ensembles=(1, 4), size=128, clicks=5, reference=False
    )
    report = run_benchmark(options, log=lambda text: None)
    waits = {str(row["what"]).split(":")[0].split(" (")[0]: row for row in report.rows if "wait_s" in row}
    assert list(waits) == [
        "first match on a new pair, E=1, cold",
        "the same pair again in a new process, E=1",
        "first match on a new pair, E=4, progressive",
        "first match on a new pair, E=4, final",
        "next pair after prefetch, E=1",
        "click while prefetch runs",
    ]
    progressive = waits["first match on a new pair, E=4, progressive"]
    assert 0 < progressive["wait_s"] < waits["first match on a new pair, E=4, final"]["wait_s"]
    assert progressive["vs_e1_cold"] == progressive["wait_s"] / waits["first match on a new pair, E=1, cold"]["wait_s"]
    # A cache hit: far below a cold pair.
    assert waits["next pair after prefetch, E=1"]["wait_s"] < waits["first match on a new pair, E=1, cold"]["wait_s"]
    assert "| first match on a new pair, E=4, progressive: first partial match |" in to_markdown(report)
    assert waits["the same pair again in a new process, E=1"]["model_passes"] == 0  # all from the disk
    click = waits["click while prefetch runs"]  # matched beside a prefetch that was never stopped
    assert 1 <= click["clicks"] <= 20 and 0 < click["wait_s"] <= click["p95_s"] <= click["max_s"]
