"""Freed activation memory is reused without new page faults once the allocator is tuned."""

from __future__ import annotations

import platform
import resource

import pytest
import torch

from engine.models.cpu_memory import keep_freed_memory

# Once applied, the settings hold for the rest of the test session, as they do for the rest of a
# process that `sd4match` or `sd4match-gui` started on the CPU.
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc allocator settings")


def page_faults_of_a_fresh_activation(megabytes: int) -> int:
    """Minor page faults taken while allocating and filling a tensor the size of a large VAE map."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    activation = torch.ones(megabytes << 18)  # float32: 4 bytes each
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del activation
    return faults


def test_a_later_activation_reuses_freed_pages():
    assert keep_freed_memory()
    assert keep_freed_memory()  # idempotent
    page_faults_of_a_fresh_activation(256)  # the heap grows and keeps the 256 MB when it is freed
    # Without the settings glibc maps and unmaps each activation: one fault per page (51,200 here).
    # The smaller request fits in the freed block (the same size would not: aligned requests ask
    # for a little more than the block they freed).
    assert page_faults_of_a_fresh_activation(200) < (200 << 20) // resource.getpagesize() // 20
