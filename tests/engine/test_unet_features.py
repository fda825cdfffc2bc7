"""The truncated UNet forward equals the hooked output of a full forward, layer by layer."""

from __future__ import annotations

import pytest
import torch

from engine.bench.random_init import random_stable_diffusion
from engine.models.unet_features import up_block_features


@pytest.fixture(scope="module")
def unet():
    return random_stable_diffusion("tiny", seed=3).unet.eval()


def hooked_full_forward(unet, latents, t, states) -> dict[int, torch.Tensor]:
    captured: dict[int, torch.Tensor] = {}
    handles = [
        block.register_forward_hook(lambda module, args, output, index=index: captured.__setitem__(index, output))
        for index, block in enumerate(unet.up_blocks)
    ]
    try:
        unet(latents, t, encoder_hidden_states=states)
    finally:
        for handle in handles:
            handle.remove()
    return captured


@pytest.mark.parametrize("latent_size", [32, 30])  # 30 is not a multiple of 8: exercises upsample_size
@torch.no_grad()
def test_truncated_equals_hooked_full_forward(unet, latent_size):
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 4, latent_size, latent_size, generator=generator)
    states = torch.randn(2, 77, 32, generator=generator)
    full = hooked_full_forward(unet, latents, 261, states)
    for layer in range(len(unet.up_blocks)):
        truncated = up_block_features(unet, latents, 261, states, (layer,))[layer]
        assert truncated.shape == full[layer].shape
        assert torch.equal(truncated, full[layer]), f"layer {layer} differs"


@torch.no_grad()
def test_several_layers_in_one_pass(unet):
    latents = torch.randn(1, 4, 32, 32)
    states = torch.randn(1, 77, 32)
    both = up_block_features(unet, latents, 50, states, (1, 2))
    assert set(both) == {1, 2}
    assert both[1].shape == (1, 64, 16, 16) and both[2].shape == (1, 64, 32, 32)


def test_truncation_does_not_run_later_blocks(unet):
    calls = []
    handle = unet.up_blocks[2].register_forward_hook(lambda *args: calls.append(1))
    conv = unet.conv_out.register_forward_hook(lambda *args: calls.append(2))
    try:
        with torch.no_grad():
            up_block_features(unet, torch.randn(1, 4, 32, 32), 50, torch.randn(1, 77, 32), (1,))
    finally:
        handle.remove()
        conv.remove()
    assert calls == []


def test_out_of_range_layer(unet):
    with pytest.raises(ValueError, match="out of range"):
        up_block_features(unet, torch.randn(1, 4, 32, 32), 50, torch.randn(1, 77, 32), (4,))
