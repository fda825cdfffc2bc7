"""The feature cache in Settings: its usage shown, its size set, kept, and handed to the engine."""

from __future__ import annotations

import dataclasses

import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from engine import Matcher
from engine.disk_cache import CACHE_ENV, DiskCache
from sd4match_gui.views.settings_dialog import SettingsDialog
from sd4match_gui.worker.engine_worker import EngineWorker
from sd4match_gui.worker.messages import EngineConfig
from tests.gui.conftest import SIFT


def test_settings_show_the_cache_usage_and_set_its_size(make_app, qtbot, sift_matcher, store, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for n in range(2):
        DiskCache().store({"n": n}, {"x": torch.zeros(10)})
    app = make_app(sift_matcher, SIFT, demo=False)
    seen: list[str] = []

    def type_size_and_accept() -> None:
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsDialog) and w.isVisible())
        seen.append(dialog.cache_usage.text())
        dialog.cache_size.setFocus()
        dialog.cache_size.selectAll()
        qtbot.keyClicks(dialog.cache_size, "2.5")
        qtbot.keyClick(dialog.cache_size, Qt.Key.Key_Tab)
        dialog.accept()

    QTimer.singleShot(0, type_size_and_accept)
    app.window.actions["settings"].trigger()
    assert len(seen) == 1 and "2 entries" in seen[0] and str(tmp_path / "cache") in seen[0]
    assert store.load().cache_bytes == int(2.5 * (1 << 30))
    assert app.preferences.engine_config().cache_bytes == int(2.5 * (1 << 30))


def test_a_new_cache_size_keeps_the_loaded_models_and_evicts_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for n in range(3):
        DiskCache().store({"n": n}, {"x": torch.zeros(1000)})
    built: list[EngineConfig] = []

    def factory(config: EngineConfig) -> Matcher:
        built.append(config)
        return Matcher(disk_cache=DiskCache(max_bytes=config.cache_bytes))

    worker = EngineWorker(factory)
    config = EngineConfig()
    matcher = worker._matcher_for(config)
    smaller = dataclasses.replace(config, cache_bytes=5000)  # room for one entry
    assert worker._matcher_for(smaller) is matcher and len(built) == 1
    assert matcher.disk_cache.max_bytes == 5000 and DiskCache().info().entries == 1
    assert worker._matcher_for(dataclasses.replace(smaller, dtype="float32")) is not matcher and len(built) == 2
