"""UNet forward that stops after the deepest up block it needs (DIFT's trick).

The official SD4Match code runs the whole UNet to ``conv_out`` and keeps an intermediate up-block
output; everything after that block is wasted work (about half of the UNet's FLOPs for layer 1 at
768 px). This forward follows ``UNet2DConditionModel.forward`` step by step for the Stable
Diffusion 1.x/2.x configuration (no class, added or ControlNet embeddings) and returns the outputs
of the requested up blocks; ``tests/engine/test_unet_features.py`` checks it against hooks on a
full forward.
"""

from __future__ import annotations

from typing import Any

import torch


def up_block_features(
    unet: Any,
    latents: torch.Tensor,
    timestep: int,
    encoder_hidden_states: torch.Tensor,
    layers: tuple[int, ...],
) -> dict[int, torch.Tensor]:
    """Run the UNet down to the mid block and up to ``max(layers)``, then stop.

    Args:
        unet: a diffusers ``UNet2DConditionModel``.
        latents: ``B x 4 x h x w`` noised latents.
        timestep: the integer diffusion timestep for the whole batch.
        encoder_hidden_states: ``B x 77 x D`` text states.
        layers: up-block indices to return.

    Returns:
        ``{layer: B x C_layer x h_layer x w_layer}`` (SD2-1 at 768 px, layer 1: 1280 x 48 x 48).
    """
    deepest = max(layers)
    if min(layers) < 0 or deepest >= len(unet.up_blocks):
        raise ValueError(f"layers {layers} out of range for a UNet with {len(unet.up_blocks)} up blocks")
    sample = latents
    # 1. Time embedding (the same two calls as the full forward).
    timesteps = torch.full((sample.shape[0],), timestep, dtype=torch.long, device=sample.device)
    emb = unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timesteps), None)
    if unet.time_embed_act is not None:
        emb = unet.time_embed_act(emb)
    encoder_hidden_states = unet.process_encoder_hidden_states(encoder_hidden_states, None)

    # 2. Down blocks, keeping the skip connections.
    sample = unet.conv_in(sample)
    skips: tuple[torch.Tensor, ...] = (sample,)
    for block in unet.down_blocks:
        if getattr(block, "has_cross_attention", False):
            sample, residuals = block(hidden_states=sample, temb=emb, encoder_hidden_states=encoder_hidden_states)
        else:
            sample, residuals = block(hidden_states=sample, temb=emb)
        skips += residuals

    # 3. Mid block.
    if unet.mid_block is not None:
        if getattr(unet.mid_block, "has_cross_attention", False):
            sample = unet.mid_block(sample, emb, encoder_hidden_states=encoder_hidden_states)
        else:
            sample = unet.mid_block(sample, emb)

    # 4. Up blocks, only as far as needed. Odd latent sizes need explicit upsample targets.
    needs_upsample_size = any(dim % 2**unet.num_upsamplers for dim in latents.shape[-2:])
    outputs: dict[int, torch.Tensor] = {}
    for index, block in enumerate(unet.up_blocks[: deepest + 1]):
        residuals = skips[-len(block.resnets) :]
        skips = skips[: -len(block.resnets)]
        is_final = index == len(unet.up_blocks) - 1
        upsample_size = skips[-1].shape[2:] if needs_upsample_size and not is_final else None
        if getattr(block, "has_cross_attention", False):
            sample = block(
                hidden_states=sample,
                temb=emb,
                res_hidden_states_tuple=residuals,
                encoder_hidden_states=encoder_hidden_states,
                upsample_size=upsample_size,
            )
        else:
            sample = block(
                hidden_states=sample, temb=emb, res_hidden_states_tuple=residuals, upsample_size=upsample_size
            )
        if index in layers:
            outputs[index] = sample
    return outputs
