"""Keep freed activation memory in the process on Linux, so the next extraction reuses it.

glibc serves every allocation over 32 MB with a fresh ``mmap`` and returns it to the system on
``free``. A 768 px extraction allocates dozens of such activations (one 128 x 768 x 768 VAE map is
150 MB in bf16), and each fresh mapping is paid again in page faults as it is first written: on the
project's CPU machine that was most of the element-wise time of a cold extraction
(docs/benchmarks.md section 1). With ``mmap`` off for allocations and no trimming, freed blocks stay
in the heap and are reused. This is the tuning the PyTorch CPU performance guides reach by
preloading jemalloc or tcmalloc, done here without a second library. The cost: the process keeps
up to its peak memory after an extraction instead of handing it back, and a kept heap can
fragment (docs/benchmarks.md: the resident size stayed flat over ten mixed extractions).
"""

from __future__ import annotations

import ctypes
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_NEVER = -1  # for M_TRIM_THRESHOLD: never give the top of the heap back (mallopt(3))

_applied: set[tuple[int, int]] = set()


def share_one_arena() -> bool:
    """Make threads started from now on allocate from the main heap, as the main thread does.

    glibc gives other threads arenas of their own, and a thread keeps its arena for life; an
    extraction on such a thread gained nothing from :func:`keep_freed_memory` on the project's
    machine. Applied at start-up, before any thread exists, whatever the device, by
    :func:`engine.runtime.configure_process` (the ``tune_allocator`` runtime option).
    """
    return _set(((_M_ARENA_MAX, 1),))


def keep_freed_memory() -> bool:
    """Keep freed blocks in the heap for reuse (and share one arena); False without glibc.

    Applied at start-up by :func:`engine.runtime.configure_process` when the process computes on
    the CPU, so a GPU process still returns memory as usual. macOS, Windows and musl keep their
    allocators as they are.
    """
    return _set(((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER)))


def _set(settings: tuple[tuple[int, int], ...]) -> bool:
    """Apply the ``mallopt`` settings not applied yet; True when all of them hold."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    for setting in settings:
        if setting not in _applied and mallopt(*setting) == 1:
            _applied.add(setting)
    return all(setting in _applied for setting in settings)
