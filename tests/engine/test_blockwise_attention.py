"""The blockwise CPU attention computes diffusers' attention: bit for bit in float32, closely in bf16."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import AttnProcessor2_0

from engine.bench.random_init import random_stable_diffusion
from engine.models import blockwise_attention
from engine.models.blockwise_attention import BlockwiseAttentionProcessor, use_blockwise_attention


@pytest.fixture
def always_blockwise(monkeypatch):
    """Take the blockwise path for every sequence length, with blocks that do not divide the tokens."""
    monkeypatch.setattr(blockwise_attention, "MIN_PAIRS", 0)
    monkeypatch.setattr(blockwise_attention, "QUERY_BLOCK", 48)


@pytest.mark.parametrize("sharpness", [1.0, 4.0])  # 4: peaked attention, where rounded scores show most
@pytest.mark.parametrize("width", [16, 512])  # 512: the VAE's head, whose 1/sqrt(d) is not a power of two
def test_blockwise_matches_float64_attention_in_bf16(always_blockwise, sharpness, width):
    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(2, 3, 200, width, generator=generator) for _ in range(3))
    query = query * sharpness
    exact = F.scaled_dot_product_attention(query.double(), key.double(), value.double())
    blockwise = blockwise_attention.blockwise_attention(*(x.bfloat16() for x in (query, key, value)))
    flash = F.scaled_dot_product_attention(*(x.bfloat16() for x in (query, key, value)))
    assert blockwise.dtype == torch.bfloat16 and blockwise.shape == query.shape
    # bf16 rounding of the probabilities: a few times the flash kernel's error, far below feature differences.
    flash_error = (flash.double() - exact).abs().max().item()
    assert (blockwise.double() - exact).abs().max().item() < max(8 * flash_error, 1e-2)


def test_float32_and_short_sequences_use_the_fused_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(blockwise_attention, "QUERY_BLOCK", 1)
    monkeypatch.setattr(torch, "mm", lambda *args, **kwargs: calls.append(args))
    query = torch.randn(1, 2, 64, 8)
    assert torch.equal(
        blockwise_attention.blockwise_attention(query, query, query),
        F.scaled_dot_product_attention(query, query, query),
    )
    blockwise_attention.blockwise_attention(*(query.bfloat16(),) * 3)  # 64 x 64 pairs: below MIN_PAIRS
    assert calls == []


@pytest.fixture(scope="module")
def tiny_models():
    random = random_stable_diffusion("tiny", seed=5)
    return random.unet.eval(), random.vae.eval()


def with_processor(model, processor):
    twin = copy.deepcopy(model)
    twin.set_attn_processor(processor)
    return twin


@torch.no_grad()
def test_processor_reproduces_diffusers_in_float32(tiny_models, always_blockwise):
    unet, vae = tiny_models
    latents, states = torch.randn(1, 4, 16, 16), torch.randn(1, 77, 32)
    pixels = torch.rand(1, 3, 64, 64) * 2 - 1
    ours = with_processor(unet, BlockwiseAttentionProcessor()), with_processor(vae, BlockwiseAttentionProcessor())
    theirs = with_processor(unet, AttnProcessor2_0()), with_processor(vae, AttnProcessor2_0())
    assert torch.equal(ours[0](latents, 50, states).sample, theirs[0](latents, 50, states).sample)
    assert torch.equal(ours[1].encode(pixels).latent_dist.mean, theirs[1].encode(pixels).latent_dist.mean)


@torch.no_grad()
def test_processor_in_bf16_stays_close_to_diffusers(tiny_models, always_blockwise):
    """As the engine runs on the CPU: bf16 weights under bf16 autocast."""
    unet, vae = tiny_models
    latents, states = torch.randn(1, 4, 16, 16).bfloat16(), torch.randn(1, 77, 32).bfloat16()
    pixels = (torch.rand(1, 3, 64, 64) * 2 - 1).bfloat16()
    outputs = {}
    for name, processor in (("ours", BlockwiseAttentionProcessor()), ("theirs", AttnProcessor2_0())):
        unet_twin, vae_twin = (with_processor(model, processor).bfloat16() for model in (unet, vae))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            features = unet_twin(latents, 50, states).sample.float().flatten()
            latent = vae_twin.encode(pixels).latent_dist.mean.float().flatten()
        outputs[name] = features, latent
    for ours, theirs in zip(outputs["ours"], outputs["theirs"], strict=True):
        assert F.cosine_similarity(ours, theirs, dim=0) > 0.999


def test_installed_on_every_attention_block_of_sd_models(tiny_models):
    unet, vae = (copy.deepcopy(model) for model in tiny_models)
    installed = use_blockwise_attention(unet, vae)
    processors = list(unet.attn_processors.values()) + list(vae.attn_processors.values())
    assert installed == len(processors) > 0
    assert all(isinstance(processor, BlockwiseAttentionProcessor) for processor in processors)


def test_blocks_with_other_extras_keep_their_processor(tiny_models):
    vae = copy.deepcopy(tiny_models[1])
    attention = vae.encoder.mid_block.attentions[0]
    attention.norm_q = torch.nn.LayerNorm(attention.inner_dim)  # as in models with q/k normalisation
    before = type(attention.processor)
    use_blockwise_attention(vae)
    assert type(attention.processor) is before


def test_masks_are_refused(tiny_models):
    attention = copy.deepcopy(tiny_models[0].down_blocks[0].attentions[0].transformer_blocks[0].attn1)
    hidden = torch.randn(1, 16, attention.query_dim)
    with pytest.raises(ValueError, match="masks"):
        BlockwiseAttentionProcessor()(attention, hidden, attention_mask=torch.ones(1, 16, 16))


def test_gradients_flow_through_the_fused_kernel(always_blockwise):
    """Prompt tuning back-propagates through the UNet's attention to the prompt."""
    query = torch.randn(1, 2, 100, 8).bfloat16().requires_grad_()
    key, value = torch.randn(1, 2, 100, 8).bfloat16(), torch.randn(1, 2, 100, 8).bfloat16()
    blockwise_attention.blockwise_attention(query, key, value).float().sum().backward()
    assert query.grad is not None and query.grad.abs().sum() > 0
