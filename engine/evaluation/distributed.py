"""Data parallelism through ``accelerate launch``: which process this is, and a barrier.

Each process evaluates one contiguous block of the unfinished pairs and saves its results; the
main process merges them after everyone is done. Launched plainly, there is one process and the
barrier does nothing. On a machine without GPUs ``accelerate launch --multi_gpu`` still starts
several processes; they then meet over gloo (``PartialState(cpu=True)``).

The launcher gives each CPU process one thread, where a plain run uses every core; and a CPU
matrix product sums in an order that depends on the thread count (a 20 x 1280 by 1280 x 2304
product moves by up to 9e-5 between one and two threads). :func:`per_pair_threads` therefore runs
the per-pair maths on one thread in every process, so a pair's predictions do not depend on how
the run was launched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")
PER_PAIR_THREADS = 1  # what every process can afford: a pair's products are milliseconds on one thread


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the launched ones.

    Attributes:
        index: 0 .. count - 1; 0 is the main process.
        count: number of processes.
        device: the accelerator this process owns (``cuda:{local rank}``), or the CPU.
    """

    index: int
    count: int
    device: torch.device
    _state: Any = None

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def wait(self) -> None:
        """Block until every process gets here."""
        if self._state is not None and self.count > 1:
            self._state.wait_for_everyone()


def join_processes(cpu: bool) -> ProcessGroup:
    """Join the processes ``accelerate launch`` started (or be the only one)."""
    from accelerate import PartialState

    state = PartialState(cpu=cpu)
    return ProcessGroup(state.process_index, state.num_processes, torch.device(state.device), state)


def shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Block ``index`` of ``count`` near-equal contiguous blocks.

    Contiguous rather than strided: neighbouring pairs of a dataset share images, so a block
    re-uses more cached features than every count-th pair would.
    """
    return list(items[index * len(items) // count : (index + 1) * len(items) // count])


@contextmanager
def per_pair_threads() -> Iterator[None]:
    """Run the enclosed torch CPU maths on :data:`PER_PAIR_THREADS` threads, then restore the count."""
    previous = torch.get_num_threads()
    if previous == PER_PAIR_THREADS:
        yield
        return
    torch.set_num_threads(PER_PAIR_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
