"""The app-latency benchmark runs end to end (its numbers belong in docs/benchmarks.md, not here)."""

from __future__ import annotations

import json

from sd4match_gui import benchmark


def test_benchmark_measures_clicks_and_hovers_on_cached_features(tmp_path, capsys, monkeypatch):
    for name, value in (("QT_QPA_PLATFORM", "offscreen"), ("HF_HUB_OFFLINE", "1"), ("SD4MATCH_HOME", "")):
        monkeypatch.setenv(name, value)  # the benchmark sets these for itself; restored afterwards
    out = tmp_path / "latency.json"
    assert benchmark.main(["--clicks", "3", "--backends", "sift", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["sift"]
    for event in ("click", "hover"):
        assert result[event]["count"] == 3
        assert 0 < result[event]["median_ms"] <= result[event]["p95_ms"] <= result[event]["max_ms"]
    assert result["feature_extractions"] == 2  # source and target once; every measured event used the cache
    assert "| sift | hover |" in capsys.readouterr().out
