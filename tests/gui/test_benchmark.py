"""The app-latency benchmark runs end to end (its numbers belong in docs/benchmarks.md, not here)."""

from __future__ import annotations

import json
import time

from sd4match_gui import benchmark


def test_benchmark_measures_clicks_and_hovers_at_each_point_count(tmp_path, capsys, monkeypatch):
    for name, value in (("QT_QPA_PLATFORM", "offscreen"), ("HF_HUB_OFFLINE", "1"), ("SD4MATCH_HOME", "")):
        monkeypatch.setenv(name, value)  # the benchmark sets these for itself; restored afterwards
    out = tmp_path / "latency.json"
    assert benchmark.POINT_COUNTS == (10, 100, 1000)  # what a run reports by default
    assert benchmark.main(["--clicks", "3", "--backends", "sift", "--points", "10", "1000", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["sift"]
    assert set(result["points"]) == {"10", "1000"}
    for events in result["points"].values():
        for event in ("click", "hover"):
            assert events[event]["count"] == 3
            assert 0 < events[event]["median_ms"] <= events[event]["p95_ms"] <= events[event]["max_ms"]
            assert 0 < events[event]["gui_cpu_median_ms"] <= events[event]["process_cpu_median_ms"]
        assert events["click"]["all_views_median_ms"] >= events["click"]["median_ms"]  # the panels come after
    assert result["feature_extractions"] == 2  # source and target once; every measured event used the cache
    printed = capsys.readouterr().out
    assert "| sift | 10 | click |" in printed and "| sift | 1000 | hover |" in printed


def test_benchmark_measures_clicks_while_the_pairs_ahead_are_prefetched(tmp_path, capsys, monkeypatch):
    for name, value in (("QT_QPA_PLATFORM", "offscreen"), ("HF_HUB_OFFLINE", "1"), ("SD4MATCH_HOME", "")):
        monkeypatch.setenv(name, value)
    out = tmp_path / "latency.json"
    argv = ["--while-prefetch", "--backends", "tiny-sd", "--size", "512", "--clicks", "2", "--json", str(out)]
    assert benchmark.main(argv) == 0
    result = json.loads(out.read_text())["tiny-sd"]
    assert result["first_pair_s"] > 0 and isinstance(result["prefetch_done"], bool)
    events = result["points"]["10"]  # ten points by default in this mode
    # Events drawn after the prefetch ended are left out: at most the clicks asked for, all if it ran on.
    assert all(0 <= events[event]["count"] <= 2 for event in ("click", "hover"))
    if not result["prefetch_done"]:
        assert events["click"]["count"] == events["hover"]["count"] == 2
    assert "while the pairs ahead are prefetched" in capsys.readouterr().out


def test_the_benchmark_waits_asleep_as_the_app_does(qapp):
    """Waiting for a frame, the benchmark's GUI thread sleeps between events: a spinning wait would
    take a core and the interpreter lock from the threads computing the answer it times."""
    from PySide6.QtCore import QTimer

    turned = []
    QTimer.singleShot(300, lambda: turned.append(True))
    started, started_cpu = time.perf_counter(), time.thread_time()
    benchmark._wait_until(lambda: bool(turned))
    assert time.perf_counter() - started >= 0.2  # it waited (a coarse Qt timer may fire 5 % early)
    assert time.thread_time() - started_cpu < 0.1  # a spin would take about the whole 0.3 s
