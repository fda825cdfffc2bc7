"""Data parallelism through ``accelerate launch``: which process this is, and a barrier.

Each process evaluates one contiguous block of the unfinished pairs and saves its results; the
main process merges them after everyone is done. Launched plainly, there is one process and the
barrier does nothing. On a machine without GPUs ``accelerate launch --multi_gpu`` still starts
several processes; they then meet over gloo (``PartialState(cpu=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")


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
