"""Randomly initialised models with the real classes: for the benchmark and the tests, never for matching.

This is the random-weight side of the package boundary (see :mod:`engine.bench`): nothing in the
engine's matching path imports it. Two architectures: ``"sd2-1"`` (the real Stable Diffusion 2-1 and
dinov2-base shapes; compute and memory do not depend on weight values, so timings are real) and
``"tiny"`` (the same block types, a few hundred thousand parameters, fast on a CPU). Folders are
written with ``save_pretrained`` in the diffusers layout, so tests load them through the project's
loader, exactly like downloaded weights. The tokenizer is a small BPE vocabulary of letters; it
encodes any lower-case English text.
"""

from __future__ import annotations

import json
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CROSS_ATTN_DOWN = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
CROSS_ATTN_UP = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")

UNET_CONFIGS: dict[str, dict[str, Any]] = {
    "sd2-1": dict(
        sample_size=96, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, norm_num_groups=32,
        cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20),
    ),
    "tiny": dict(
        sample_size=32, block_out_channels=(32, 64, 64, 64), layers_per_block=1, norm_num_groups=16,
        cross_attention_dim=32, attention_head_dim=(2, 4, 4, 4),
    ),
}  # fmt: skip
VAE_CONFIGS: dict[str, dict[str, Any]] = {
    "sd2-1": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32, sample_size=768),
    "tiny": dict(block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8, sample_size=256),
}
TEXT_CONFIGS: dict[str, dict[str, Any]] = {
    "sd2-1": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
                  vocab_size=49408, hidden_act="gelu", projection_dim=512),
    "tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 vocab_size=1000, hidden_act="gelu", projection_dim=32),
}  # fmt: skip
DINOV2_CONFIGS: dict[str, dict[str, Any]] = {
    "sd2-1": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, image_size=518),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=224),
}
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction",
)  # fmt: skip


@dataclass(eq=False)
class RandomStableDiffusion:
    """In-memory random SD parts (the loader's inputs, before saving)."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any


def random_stable_diffusion(architecture: str = "tiny", seed: int = 0) -> RandomStableDiffusion:
    """Build UNet, VAE, CLIP text encoder, tokenizer and DDIM scheduler with random weights."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, flip_sin_to_cos=True, freq_shift=0, down_block_types=CROSS_ATTN_DOWN,
        up_block_types=CROSS_ATTN_UP, downsample_padding=1, mid_block_scale_factor=1, act_fn="silu",
        norm_eps=1e-5, use_linear_projection=True, upcast_attention=True, **UNET_CONFIGS[architecture],
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, scaling_factor=0.18215,
        **VAE_CONFIGS[architecture],
    )  # fmt: skip
    tokenizer = tiny_clip_tokenizer()
    text_config = CLIPTextConfig(
        max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **TEXT_CONFIGS[architecture],
    )  # fmt: skip
    text_encoder = CLIPTextModel(text_config)
    return RandomStableDiffusion(unet, vae, text_encoder, tokenizer, DDIMScheduler(**SCHEDULER_CONFIG))


def save_stable_diffusion(parts: RandomStableDiffusion, folder: Path) -> Path:
    """Write ``parts`` in the diffusers layout (as ``sd4match download`` leaves it)."""
    folder = Path(folder)
    for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        getattr(parts, name).save_pretrained(folder / name)
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "DDIMScheduler"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


def random_dinov2(architecture: str = "tiny", seed: int = 0) -> Any:
    """A ``Dinov2Model`` with random weights (ViT, patch 14)."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(patch_size=14, mlp_ratio=4, layerscale_value=1.0, use_swiglu_ffn=False,
                          layer_norm_eps=1e-6, **DINOV2_CONFIGS[architecture])  # fmt: skip
    return Dinov2Model(config).eval()


def tiny_clip_tokenizer() -> Any:
    """A CLIP BPE tokenizer over single letters plus a few merges; pad token "!" as in SD2-1."""
    from transformers import CLIPTokenizer

    letters = list(string.ascii_lowercase + string.digits + "!")
    vocab = {symbol: index for index, symbol in enumerate(letters + [c + "</w>" for c in letters])}
    merges = [("c", "a"), ("ca", "t</w>"), ("o", "t"), ("p", "h"), ("ph", "ot"), ("phot", "o</w>"), ("o", "f</w>")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    # Through files, as a downloaded tokenizer is read: the constructors of transformers 4 and 5 differ.
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab))
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
        return CLIPTokenizer.from_pretrained(folder, pad_token="!", model_max_length=77)
