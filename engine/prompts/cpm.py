"""The conditional prompt module of SD4Match-CPM (Pair-DINO-Feat variant).

From the DINOv2 patch tokens of a source and a target image it computes 50 conditional token
embeddings, and puts them after 25 global learned ones:

1. concatenate source and target patches along channels: ``N x 2C``;
2. ``linear_C`` (2C -> D), then ``linear_N`` across the patch axis (N -> N);
3. adaptive max-pool over the patch axis to 50 tokens;
4. ``cond = tanh(alpha_cond) * (positional_embedding + x)`` (the formula of the released code,
   which the released weights were trained with; the paper writes it differently).

Parameter names are the official ones, so ``ckpt.pt`` files load with ``load_state_dict``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import PromptError
from .files import PromptFile, cpm_state


class ConditionalPromptModule(nn.Module):
    """Args:
    text_width: D, the text encoder width (1024 for SD2-1).
    dino_width: C, the DINOv2 width (768 for dinov2-base).
    num_patches: N, DINOv2 patches per image (256 for 224 px at patch 14).
    global_length: G, learned global tokens (25).
    cond_length: conditional tokens (50); G + cond_length = L - 2 (75 for CLIP).
    """

    def __init__(
        self, text_width: int, dino_width: int, num_patches: int, global_length: int = 25, cond_length: int = 50
    ) -> None:
        super().__init__()
        # The paper initialises the free parameters from U[0, 1) (torch.rand), not zero-gated.
        self.global_embeds = nn.Parameter(torch.rand(1, global_length, text_width))
        self.positional_embedding = nn.Parameter(torch.rand(1, cond_length, text_width))
        self.alpha_cond = nn.Parameter(torch.rand(1, cond_length, text_width))
        self.linear_C = nn.Linear(2 * dino_width, text_width)
        self.linear_N = nn.Linear(num_patches, num_patches)
        self.pool = nn.AdaptiveMaxPool1d(cond_length)

    def forward(self, source_patches: torch.Tensor, target_patches: torch.Tensor) -> torch.Tensor:
        """``B x N x C`` source and target patch tokens -> ``B x (G + 50) x D`` middle tokens."""
        x = self.linear_C(torch.cat([source_patches, target_patches], dim=-1))  # B x N x D
        x = self.linear_N(x.transpose(1, 2))  # B x D x N, mixed across patches
        x = self.pool(x).transpose(1, 2)  # B x 50 x D
        cond = torch.tanh(self.alpha_cond) * (self.positional_embedding + x)
        return torch.cat([self.global_embeds.expand(x.shape[0], -1, -1), cond], dim=1)

    @classmethod
    def from_prompt_file(
        cls, prompt: PromptFile, text_width: int, dino_width: int, num_patches: int, middle_length: int
    ) -> ConditionalPromptModule:
        """Build from a ``ckpt.pt``, checking every shape against the loaded models."""
        state = cpm_state(prompt)
        global_length = state["global_embeds"].shape[1] if state["global_embeds"].ndim == 3 else -1
        cond_length = state["positional_embedding"].shape[1] if state["positional_embedding"].ndim == 3 else -1
        expected = {
            "global_embeds": (1, global_length, text_width),
            "positional_embedding": (1, cond_length, text_width),
            "alpha_cond": (1, cond_length, text_width),
            "linear_C.weight": (text_width, 2 * dino_width),
            "linear_C.bias": (text_width,),
            "linear_N.weight": (num_patches, num_patches),
            "linear_N.bias": (num_patches,),
        }
        wrong = [
            f"{key} {tuple(state[key].shape)} (needs {shape})"
            for key, shape in expected.items()
            if tuple(state[key].shape) != shape
        ]
        if wrong or global_length + cond_length != middle_length:
            detail = "; ".join(wrong) or f"G + C = {global_length + cond_length}, needs {middle_length}"
            raise PromptError(
                f"CPM checkpoint '{prompt.location}' does not fit the loaded models (text width {text_width}, "
                f"DINOv2 width {dino_width}, {num_patches} patches): {detail}"
            )
        module = cls(text_width, dino_width, num_patches, global_length, cond_length)
        module.load_state_dict(state, strict=True)
        return module.eval().requires_grad_(False)
