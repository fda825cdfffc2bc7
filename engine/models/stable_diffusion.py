"""Loading the parts of Stable Diffusion 2-1 that feature extraction needs.

Only the UNet, the VAE encoder, the CLIP text encoder, its tokenizer and the noise scheduler
are loaded; the VAE decoder is dropped right after loading (features never decode an image).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import EngineError, WeightsNotFoundError
from ..runtime import Runtime
from .blockwise_attention import use_blockwise_attention
from .weights import LocatedWeights, locate_weights, quiet_library_output


@dataclass(eq=False)
class StableDiffusionParts:
    """The loaded, frozen networks plus where they came from.

    Attributes:
        unet: ``UNet2DConditionModel``; ``up_blocks[i]`` outputs are the features.
        vae: ``AutoencoderKL`` without its decoder.
        text_encoder: ``CLIPTextModel`` (SD2-1: 23 layers, hidden size D = 1024).
        tokenizer: the CLIP tokenizer shipped with the model.
        scheduler: the model's own scheduler, used only for ``add_noise``.
        weights: where the files were found.
        runtime: device and precision the parts live in.
    """

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    weights: LocatedWeights
    runtime: Runtime

    @property
    def identity(self) -> str:
        """Names these weights in cache keys and exports: source plus hub revision or folder."""
        return self.weights.identity

    @property
    def latent_scale(self) -> float:
        return float(self.vae.config.scaling_factor)

    @property
    def num_up_blocks(self) -> int:
        return len(self.unet.up_blocks)

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler.config.num_train_timesteps)


def load_stable_diffusion(source: str, runtime: Runtime) -> StableDiffusionParts:
    """Load SD parts from a local folder or the hub cache (never downloads).

    Raises:
        WeightsNotFoundError: files missing, unreadable or not a Stable Diffusion 1.x/2.x layout.
    """
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    located = locate_weights(source, "sd")
    folder = located.folder
    quiet_library_output()
    unet = _load(UNet2DConditionModel, folder, "unet", torch_dtype=runtime.weights_dtype)
    vae = _load(AutoencoderKL, folder, "vae", torch_dtype=runtime.weights_dtype)
    text_encoder = _load(CLIPTextModel, folder, "text_encoder", dtype=runtime.weights_dtype)
    tokenizer = _load(CLIPTokenizer, folder, "tokenizer")
    scheduler = _load_scheduler(folder)
    _check_architecture(unet, text_encoder, folder)

    place_for_inference(unet, vae, text_encoder, runtime)
    return StableDiffusionParts(unet, vae, text_encoder, tokenizer, scheduler, located, runtime)


def place_for_inference(unet: Any, vae: Any, text_encoder: Any, runtime: Runtime) -> None:
    """Drop the VAE decoder, freeze, and move the modules to the runtime's device and dtype."""
    # Features never decode a latent; freeing the decoder saves ~200 MB (fp32).
    vae.decoder = None
    vae.post_quant_conv = None
    for module in (unet, vae, text_encoder):
        module.to(runtime.device, runtime.weights_dtype).eval().requires_grad_(False)
    if runtime.device.type == "cpu":
        if runtime.compute_dtype != torch.float32:
            # oneDNN's bf16 convolutions at 768 px run ~10 % faster in channels-last (the UNet gains
            # nothing, float32 neither); float32 keeps the default layout, so its features equal
            # diffusers' own pipeline bit for bit (the layout changes rounding, not the maths).
            vae.to(memory_format=torch.channels_last)
        if runtime.blockwise_attention:
            use_blockwise_attention(unet, vae)


def _load(cls: Any, folder: Path, subfolder: str, **kwargs: Any) -> Any:
    try:
        return cls.from_pretrained(folder, subfolder=subfolder, local_files_only=True, **kwargs)
    except Exception as exc:  # diffusers/transformers raise many types for one cause: unusable files.
        raise WeightsNotFoundError(
            f"could not load the {subfolder} from '{folder / subfolder}': {exc}. The files may be corrupt "
            f"or partly downloaded; re-run `sd4match download`."
        ) from exc


def _load_scheduler(folder: Path) -> Any:
    """The scheduler class named in its config (SD2-1: DDIMScheduler); only ``add_noise`` is used."""
    import diffusers

    config_path = folder / "scheduler" / "scheduler_config.json"
    try:
        class_name = json.loads(config_path.read_text()).get("_class_name", "DDPMScheduler")
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsNotFoundError(f"cannot read the scheduler config '{config_path}': {exc}") from exc
    scheduler_cls = getattr(diffusers, class_name, None)
    if scheduler_cls is None or not hasattr(scheduler_cls, "add_noise"):
        scheduler_cls = diffusers.DDPMScheduler
    return _load(scheduler_cls, folder, "scheduler")


def _check_architecture(unet: Any, text_encoder: Any, folder: Path) -> None:
    config = unet.config
    if config.get("class_embed_type") or config.get("addition_embed_type"):
        raise EngineError(
            f"the UNet in '{folder}' uses class or added embeddings (SDXL-style); only Stable Diffusion "
            f"1.x/2.x UNets are supported"
        )
    width = text_encoder.config.hidden_size
    if config.cross_attention_dim != width:
        raise EngineError(
            f"the UNet in '{folder}' expects {config.cross_attention_dim}-d text states but its text encoder "
            f"produces {width}-d"
        )


@torch.no_grad()
def encode_posterior(parts: StableDiffusionParts, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """VAE posterior moments of one image.

    Args:
        pixels: ``1 x 3 x S x S`` in [-1, 1], float32, any device.

    Returns:
        ``(mean, std)``, each ``1 x 4 x S/8 x S/8`` float32 on the CPU, so that the latent for any
        seed is ``(mean + std * eps) * scaling_factor`` without running the VAE again.
    """
    runtime = parts.runtime
    with runtime.autocast():
        posterior = parts.vae.encode(pixels.to(runtime.device, runtime.weights_dtype)).latent_dist
    return posterior.mean.float().cpu(), posterior.std.float().cpu()
