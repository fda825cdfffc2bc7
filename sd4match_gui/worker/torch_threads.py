"""How many CPU threads torch uses on each of the app's threads, and the engine thread's priority.

Measured on torch's OpenMP build (docs/architecture.md, "Threads"): the count that
:func:`torch.set_num_threads` sets is kept per thread (OpenMP's ``nthreads`` and MKL's local
count), so the query lane setting 1 does not change the threads or the speed of an extraction
running on the engine thread. But torch also keeps one process-wide number, and a thread takes it
as its own at its first parallel operation: a thread that first uses torch while the lane's 1 is the
process-wide number would compute on one thread for good. Hence the engine thread fixes its count
(:func:`fix_engine_threads`) before it builds its first model, which is before any pair exists for
the lane to query, and every other thread of the app keeps its count fixed the same way.

Per-click maths runs on one thread everywhere (:func:`single_threaded_torch` on the engine thread,
:func:`use_one_thread` once on the lane): CPU sums split over threads differ in the last bits, and
the answers must not depend on which thread gave them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

ENGINE_NICE = 10  # added to the engine thread's nice value: the window and the lane get the CPU first


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run the per-click maths on one thread.

    The matching tensors are tiny (N x C by C x h*w); split across OpenMP threads they spend their
    time at barriers, and when the GUI thread (or anything else) holds the other core a match
    takes 30-50 ms instead of under 1 ms. Extraction keeps every thread.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def use_one_thread() -> None:
    """Make the calling thread (the query lane) compute on one thread from now on; other threads
    that already used torch keep their own count (see the module docstring)."""
    import torch

    torch.set_num_threads(1)


def fix_engine_threads() -> None:
    """Fix the engine thread's torch thread count now, from the process-wide default (all cores),
    before the lane can ever have changed that default."""
    import torch

    torch.get_num_threads()  # a thread's first call takes the process-wide number as its own


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`ENGINE_NICE` (Linux: per thread; the
    OpenMP workers it starts later inherit it). A no-op where threads have no nice value of their own."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere setpriority would lower the whole process, the window included
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # raising one's own nice value is allowed; never fail over it
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + ENGINE_NICE)
