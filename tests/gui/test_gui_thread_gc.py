"""Garbage collection stays on the GUI thread while a window is open, and comes back after."""

from __future__ import annotations

import gc
import threading

from sd4match_gui.gui_thread_gc import GuiThreadGarbageCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collection_moves_to_the_gui_thread_and_back(qtbot):
    assert gc.isenabled()
    outer, inner = GuiThreadGarbageCollector(), GuiThreadGarbageCollector()
    outer.start()
    inner.start()
    assert not gc.isenabled()
    inner.stop()
    assert not gc.isenabled()  # another window still holds it
    outer.stop()
    assert gc.isenabled()


def test_cycles_made_on_another_thread_are_freed_by_the_gui_thread_timer(qtbot):
    collector = GuiThreadGarbageCollector()
    collector.start()
    try:
        freed_on: list[str] = []

        class Tracked(Cycle):
            def __del__(self) -> None:
                freed_on.append(threading.current_thread().name)

        def make_garbage() -> None:
            for _ in range(5000):  # enough allocations to pass generation 0's threshold
                Cycle()
            Tracked()

        worker = threading.Thread(target=make_garbage, name="worker")
        worker.start()
        worker.join()
        assert freed_on == []  # no collection happened on the worker
        collector.collect_due()  # what the timer does every second
        assert freed_on == [threading.current_thread().name]
    finally:
        collector.stop()


def test_the_app_holds_collection_while_its_window_is_open(make_app, sift_matcher):
    controller = make_app(sift_matcher, demo=False)
    assert not gc.isenabled()
    controller.window.close()
    assert gc.isenabled()
