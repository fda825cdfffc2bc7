"""The step plan: process shares, wrap-around, and noise that depends only on (seed, epoch, position)."""

from __future__ import annotations

import torch

from engine.training.schedule import Schedule, noise_generator


def test_processes_split_a_step_into_the_single_process_batch() -> None:
    schedule = Schedule(num_pairs=10, batch_size=4, epochs=2, seed=3)
    assert (schedule.steps_per_epoch, schedule.total_steps) == (3, 6)
    for step in range(schedule.total_steps):
        whole = schedule.step_items(step)
        assert schedule.step_items(step, 0, 2) + schedule.step_items(step, 1, 2) == whole
        assert len(whole) == 4


def test_every_pair_is_seen_once_per_epoch_and_the_last_step_wraps_around() -> None:
    schedule = Schedule(num_pairs=10, batch_size=4, epochs=2, seed=3)
    epoch = [pair for step in range(3) for pair, _ in schedule.step_items(step)]
    order = schedule.epoch_order(0).tolist()
    assert epoch == order + order[:2]
    assert sorted(order) == list(range(10))
    assert schedule.epoch_order(1).tolist() != order  # reshuffled each epoch
    positions = [position for step in range(3) for _, position in schedule.step_items(step)]
    assert positions == list(range(12))


def test_noise_is_a_function_of_seed_epoch_and_position() -> None:
    draw = lambda *key: torch.randn(4, generator=noise_generator(*key))  # noqa: E731
    assert torch.equal(draw(0, 1, 5), draw(0, 1, 5))
    assert not torch.equal(draw(0, 1, 5), draw(0, 1, 6))
    assert not torch.equal(draw(0, 1, 5), draw(0, 2, 5))
    assert not torch.equal(draw(0, 1, 5), draw(1, 1, 5))
