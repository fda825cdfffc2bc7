"""Guard against a reference-counting bug of PySide6 6.12.0 on CPython older than 3.12.

There, every call of a Qt method that returns nothing hands back ``None`` without taking a
reference (the binding assumes CPython 3.12's immortal ``None``), so ``None``'s reference count
falls by one per call until the interpreter aborts with "Fatal Python error: none_dealloc:
deallocating None": in this app after a few minutes of clicking. PySide6 6.11.2 does not have the
bug. The guard measures whether the running binding has it and, if so, raises ``None``'s count so
far that it cannot reach zero, which is exactly what CPython 3.12 does for ``None`` anyway.
"""

from __future__ import annotations

import ctypes
import sys

import PySide6
from PySide6.QtCore import QObject

PROBES = 64
BAD_RELEASE = (6, 12)
IMMORTAL = 1 << 60  # CPython 3.12's immortal objects use a count of this order
_guarded = False


def void_calls_lose_none_references() -> bool:
    """Whether calling a void Qt method lowers ``None``'s reference count (the bug)."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBES):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before


def guard_none_refcount() -> bool:
    """Apply the guard if this interpreter and binding need it; True if it was applied (once).

    The known bad release is recognised by its version as well as measured, so that a probe
    disturbed by another thread creating references to ``None`` cannot leave the app unguarded.
    """
    global _guarded
    if _guarded or sys.version_info >= (3, 12):
        return _guarded
    if PySide6.__version_info__[:2] != BAD_RELEASE and not void_calls_lose_none_references():
        return False
    # ob_refcnt is the first field of every object in release builds of CPython.
    ctypes.c_ssize_t.from_address(id(None)).value += IMMORTAL
    _guarded = True
    return True
