"""Keep freed activation memory in the process on Linux, so the next extraction reuses it.

glibc serves every allocation over 32 MB with a fresh ``mmap`` and returns it to the system on
``free``. A 768 px extraction allocates dozens of such activations (one 128 x 768 x 768 VAE map is
150 MB in bf16), and each fresh mapping is paid again in page faults as it is first written: on the
project's CPU machine that was a fifth of a cold extraction (docs/benchmarks.md section 1). With
``mmap`` off for allocations and a high trim threshold, freed blocks stay in the heap and are reused.
This is the tuning the PyTorch CPU performance guides reach by preloading jemalloc or tcmalloc,
done here without a second library. The cost: the process keeps up to its peak memory after an
extraction instead of handing it back.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_NEVER = -1  # for M_TRIM_THRESHOLD: never give the top of the heap back (mallopt(3))

_applied = False


def keep_freed_memory() -> bool:
    """Apply the allocator settings once per process; False where the C library has no ``mallopt``.

    Called when models are placed on the CPU. Only glibc (Linux) has these knobs; macOS, Windows
    and musl keep their allocators as they are.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER), (_M_ARENA_MAX, 1))
    _applied = all(mallopt(option, value) == 1 for option, value in settings)
    return _applied
