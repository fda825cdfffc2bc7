"""``python -m engine.bench.unet_batch`` times every batch size it is asked for, alternating, and its blocks."""

from __future__ import annotations

import torch

from engine.bench.unet_batch import main, member_seconds, module_timer


def test_batch_sizes_alternate_and_times_are_per_member():
    calls: list[int] = []
    times = member_seconds(calls.append, [1, 2, 4], rounds=2)
    assert calls == [1, 2, 4, 1, 2, 4]
    assert {batch: len(values) for batch, values in times.items()} == {1: 2, 2: 2, 4: 2}


def test_module_timer_times_each_named_module_and_removes_its_hooks():
    layer = torch.nn.Linear(3, 3)
    with module_timer({"layer": layer}) as spent:
        layer(torch.zeros(1, 3))
    assert spent["layer"] > 0
    assert not layer._forward_hooks and not layer._forward_pre_hooks


def test_main_reports_each_batch_size_and_the_blocks(capsys):
    main(["--architecture", "tiny", "--size", "64", "--rounds", "1", "--batches", "1", "2", "--modules"])
    out = capsys.readouterr().out
    assert "batch 1:" in out and "batch 2:" in out
    assert "down_blocks.0" in out and "up_blocks.1" in out
