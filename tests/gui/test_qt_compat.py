"""The guard against PySide6 6.12.0's lost ``None`` references (see sd4match_gui.qt_compat)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject

from sd4match_gui import qt_compat


def test_void_qt_calls_cannot_exhaust_none():
    qt_compat.guard_none_refcount()
    if sys.version_info < (3, 12) and qt_compat.void_calls_lose_none_references():
        assert qt_compat._guarded  # the binding has the bug, so the guard must be on
    probe = QObject()
    for _ in range(300_000):  # far more than None's natural count (about 10^5 here); unguarded this aborts
        probe.setObjectName("probe")
    assert sys.getrefcount(None) > 0
