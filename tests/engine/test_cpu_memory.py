"""Freed activation memory is reused without new page faults once the allocator is tuned."""

from __future__ import annotations

import resource
import sys

import pytest
import torch

from engine.models.cpu_memory import keep_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator settings")


def page_faults_of_a_fresh_activation(megabytes: int = 256) -> int:
    """Minor page faults taken while allocating and filling a tensor the size of a large VAE map."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    activation = torch.ones(megabytes << 18)  # float32: 4 bytes each
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del activation
    return faults


def test_a_second_activation_reuses_the_first_ones_pages():
    assert keep_freed_memory()
    assert keep_freed_memory()  # idempotent
    page_faults_of_a_fresh_activation()  # the heap grows once
    pages = (256 << 20) // resource.getpagesize()
    # Without the settings glibc maps and unmaps the 256 MB each time: one fault per page (65,536).
    assert page_faults_of_a_fresh_activation() < pages // 20
