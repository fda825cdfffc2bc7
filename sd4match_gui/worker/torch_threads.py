"""How many CPU threads torch uses on each of the app's threads, and the engine thread's priority.

Measured on torch's OpenMP build (docs/architecture.md, "Threads"): the count that
:func:`torch.set_num_threads` sets is kept per thread (OpenMP's ``nthreads`` and MKL's local
count), so the query lane computing on one thread does not change the threads or the speed of an
extraction running on the engine thread. But torch also keeps one process-wide number, which
``set_num_threads`` sets too, and a thread takes that number as its own at its first torch call
(overriding a count it set before that call). Hence:

* the engine thread sets its count explicitly, to torch's default as the first engine thread
  found it (:func:`fix_engine_threads`), whatever another thread left as the process-wide number;
* the lane initialises itself, sets one thread, and has a throwaway thread put the process-wide
  number back (:func:`use_one_thread`), so a thread that starts using torch later (a second
  window's engine, a script or test on the main thread) still gets the default.

The engine thread runs at nice +10 (:func:`lower_priority`, Linux): on two cores the window and
the lane then get the CPU first while an extraction, prefetch or propagation runs. Measured in the
app (docs/benchmarks.md, sections 3.1 and 10): clicks while a collection propagates went from a
p95 of 138 ms to 53 ms, hovers while a prefetch runs from a median of 36-39 ms to 22-31 ms; the
cost is that the engine's work gives way to every other process too (a loaded machine ran the
propagation 2.5x slower). With nothing else running it keeps the whole CPU.

Per-click maths runs on one thread everywhere (:func:`single_threaded_torch` on the engine thread,
the lane's own count): CPU sums split over threads differ in the last bits, and the answers must
not depend on which thread gave them.
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


_default_threads: int | None = None  # torch's own count, as the first engine thread found it


def fix_engine_threads() -> None:
    """Give the calling (engine) thread torch's default count, before it builds its first model."""
    import torch

    global _default_threads
    threads = torch.get_num_threads()  # a thread's first call takes the process-wide number
    if _default_threads is None:
        _default_threads = threads
    torch.set_num_threads(_default_threads)


def use_one_thread() -> None:
    """Make the calling thread (the query lane) compute on one thread from now on, leaving the
    process-wide number at the default (see the module docstring)."""
    import torch

    default = torch.get_num_threads()  # first call: initialise this thread, or it would undo the 1 later
    torch.set_num_threads(1)
    restore = threading.Thread(target=torch.set_num_threads, args=(_default_threads or default,))
    restore.start()
    restore.join()


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`ENGINE_NICE` (Linux: per thread; the
    OpenMP workers it starts later inherit it). A no-op where threads have no nice value of their own."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere setpriority would lower the whole process, the window included
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):  # raising one's own nice value is allowed; never fail over it
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + ENGINE_NICE)
