"""Exact attention for bfloat16 on the CPU, a block of queries and one head at a time.

PyTorch's CPU flash-attention kernel runs the 9,216-token self-attentions of SD2-1 at 768 px (the
UNet's first level, 5 heads of 64; the VAE's mid block, 1 head of 512) at a third of the machine's
bf16 matrix rate: its inner products are small tiles. Here each head's scores for 256 queries
(256 x 9,216, 4.5 MB in bf16) are one large product, then a softmax, then a second product: the
same softmax attention (with scores and probabilities rounded to bf16, where the flash kernel keeps
them in float32), about 1.4x faster on the UNet's and 2x on the VAE's (docs/benchmarks.md
section 1). Short sequences, float32, other devices and anything that needs gradients (prompt
tuning) keep ``F.scaled_dot_product_attention``: float32 results are those of diffusers' own processor.

The processor covers the attention blocks of Stable Diffusion 1.x/2.x UNets and VAEs (self- and
cross-attention, the VAE's group norm and residual); :func:`use_blockwise_attention` installs it
only on blocks with nothing else (no masks, no spatial or q/k norms, no added key/values).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

QUERY_BLOCK = 256
# From the UNet's second level (2,304 tokens) up; below it the flash kernel is as fast.
MIN_PAIRS = 2304 * 2304


def blockwise_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``softmax(Q K^T / sqrt(d)) V`` per head, the scale diffusers' own processor uses.

    Args:
        query: ``B x H x N x d``; key, value: ``B x H x M x d``.

    Returns:
        ``B x H x N x d`` in the dtype of ``query``.
    """
    long = query.shape[-2] * key.shape[-2] >= MIN_PAIRS
    # Prompt tuning back-propagates through the UNet: the in-place block writes below have no gradient.
    tracked = torch.is_grad_enabled() and any(x.requires_grad for x in (query, key, value))
    if not long or tracked or query.dtype != torch.bfloat16 or query.device.type != "cpu":
        return F.scaled_dot_product_attention(query, key, value)
    batch, heads, tokens, width = query.shape
    out = torch.empty_like(query)
    keys_t = key.transpose(-1, -2).contiguous()  # B x H x d x M, so that each score block is a plain product
    for b in range(batch):
        for h in range(heads):
            for start in range(0, tokens, QUERY_BLOCK):
                block = query[b, h, start : start + QUERY_BLOCK]
                # The scale goes into the product's float32 accumulators, not onto bf16 queries.
                scores = block.new_empty(block.shape[0], keys_t.shape[-1])
                torch.addmm(scores, block, keys_t[b, h], beta=0, alpha=width**-0.5, out=scores)
                torch.mm(scores.softmax(dim=-1), value[b, h], out=out[b, h, start : start + QUERY_BLOCK])
    return out


class BlockwiseAttentionProcessor:
    """A diffusers attention processor computing the product with :func:`blockwise_attention`."""

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        if attention_mask is not None:
            raise ValueError("blockwise attention does not take masks; Stable Diffusion feature extraction uses none")
        residual = hidden_states
        image_shape = hidden_states.shape if hidden_states.ndim == 4 else None
        if image_shape is not None:  # the VAE's B x C x H x W maps become B x HW x C token rows
            hidden_states = hidden_states.flatten(2).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)

        query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        batch, heads = query.shape[0], attn.heads
        query, key, value = (
            x.view(batch, -1, heads, x.shape[-1] // heads).transpose(1, 2) for x in (query, key, value)
        )
        mixed = blockwise_attention(query, key, value)
        hidden_states = mixed.transpose(1, 2).reshape(batch, -1, heads * mixed.shape[-1]).to(query.dtype)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))

        if image_shape is not None:
            hidden_states = hidden_states.transpose(1, 2).reshape(image_shape)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def use_blockwise_attention(*models: Any) -> int:
    """Install the processor on every plain attention block of ``models``; returns how many."""
    from diffusers.models.attention_processor import Attention

    processor = BlockwiseAttentionProcessor()
    installed = 0
    for model in models:
        for module in model.modules():
            if isinstance(module, Attention) and _is_plain(module):
                module.set_processor(processor)
                installed += 1
    return installed


def _is_plain(attn: Any) -> bool:
    """True for blocks whose only extras are those the processor implements (scores scaled by 1/sqrt(d))."""
    extras = (
        "spatial_norm",
        "norm_q",
        "norm_k",
        "add_q_proj",
        "add_k_proj",
        "add_v_proj",
        "norm_added_q",
        "norm_added_k",
    )
    plain = all(getattr(attn, name, None) is None for name in extras)
    return plain and not getattr(attn, "only_cross_attention", False) and getattr(attn, "scale_qk", True)
