"""Which pairs each optimiser step trains on, and the noise each of them gets.

Everything random in training is a pure function of the seed and a position, never of a
generator's running state:

* the pair order of epoch e is ``permutation(seed, e)``;
* step s of an epoch covers positions ``s * B .. (s + 1) * B - 1`` of that order (B = global
  batch); the last step of an epoch wraps around to the epoch's first pairs so that every step
  has B pairs and every process the same share;
* process r of R takes the r-th contiguous B / R of a step's positions;
* the pair at position p of epoch e draws its VAE posterior samples and its noise from
  ``noise_generator(seed, e, p)``.

So a run resumed at step s, or split over any number of processes, sees exactly the pairs and
noise of an uninterrupted single-process run: the "RNG state" to save is the step counter.

This differs on purpose from the inference randomness contract (:mod:`engine.randomness`), which
seeds from the image digest so that an image always gets the same noise. Training wants fresh
noise every time a pair is revisited (the official code draws from a global generator): the prompt
must work for any noise draw, not for one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Schedule:
    """The step plan of a run.

    Attributes:
        num_pairs: training pairs.
        batch_size: pairs per optimiser step over all processes.
        epochs: passes over the pairs.
        seed: the run's seed.
    """

    num_pairs: int
    batch_size: int
    epochs: int
    seed: int

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.num_pairs / self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def epoch_of(self, step: int) -> int:
        """0-based epoch of the 0-based ``step``."""
        return step // self.steps_per_epoch

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The pair indices of ``epoch`` in training order."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, epoch])).permutation(self.num_pairs)

    def step_items(self, step: int, process: int = 0, processes: int = 1) -> list[tuple[int, int]]:
        """``(pair index, position in the epoch)`` of this process's share of the 0-based ``step``."""
        epoch, within = divmod(step, self.steps_per_epoch)
        order = self.epoch_order(epoch)
        share = self.batch_size // processes
        first = within * self.batch_size + process * share
        return [(int(order[position % self.num_pairs]), position) for position in range(first, first + share)]


def noise_generator(seed: int, epoch: int, position: int) -> torch.Generator:
    """The CPU generator of the pair at ``position`` of ``epoch``'s order."""
    state = np.random.SeedSequence([seed, epoch, position]).generate_state(1, np.uint64)[0]
    return torch.Generator("cpu").manual_seed(int(state) % 2**63)
