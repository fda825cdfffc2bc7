"""Cancellation inside a forward pass: a check before each block of the UNet and the VAE encoder.

On a CPU one UNet call of two ensemble members at S = 768 takes several seconds and the VAE
encoder about as long; checking only between calls left the machine busy that long after a
Cancel. Forward pre-hooks on the blocks raise :class:`~engine.errors.Cancelled` instead, so the
pass stops within one block. Nothing is cached from an interrupted pass (the exception unwinds
through the caches' ``get_or_create``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..progress import Progress

if TYPE_CHECKING:  # type names only: importing this module must stay cheap
    from torch import nn

    from .stable_diffusion import StableDiffusionParts


LAYERS = ("resnets", "attentions", "downsamplers", "upsamplers")  # what a diffusers block is made of


def _blocks(parts: StableDiffusionParts) -> list[nn.Module]:
    """The UNet's down, mid and up blocks and the VAE encoder's down and mid blocks, and the layers
    inside them (one VAE block at 768 px takes seconds on a CPU; one of its resnets a fraction)."""
    unet, encoder = parts.unet, parts.vae.encoder
    blocks: list[nn.Module] = [*unet.down_blocks, *unet.up_blocks, *encoder.down_blocks]
    blocks += [block for block in (unet.mid_block, encoder.mid_block) if block is not None]
    return blocks + [layer for block in blocks for name in LAYERS for layer in (getattr(block, name, None) or ())]


@contextlib.contextmanager
def interruptible(parts: StableDiffusionParts, progress: Progress) -> Iterator[None]:
    """While inside, every UNet and VAE-encoder block first honours a pending cancel of ``progress``.

    A no-op for a reporter that cannot cancel (the command line, the pipeline's plain calls).
    """
    if progress.cancel_requested is None:
        yield
        return
    handles = [block.register_forward_pre_hook(lambda *_: progress.check("model block")) for block in _blocks(parts)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
