"""CLIP text encoder as the UNet sees it: text or token embeddings in, ``1 x 77 x D`` states out.

Learned prompts are *token-level* embeddings (after CLIP's token + position embedding) that skip
the embedding layer and run through the frozen transformer and its final layer norm. Rather than
re-implementing CLIP's causal mask (its signature changed across transformers versions), the
encoder is called normally on dummy ids while a forward hook on its embedding module returns the
learned embeddings instead: the same computation, in any transformers version, with gradients.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import PromptError


class TextConditioner:
    """Wraps a CLIP tokenizer + text encoder.

    Args:
        tokenizer: the model's CLIP tokenizer.
        text_encoder: the model's ``CLIPTextModel`` (frozen).
        autocast: context-manager factory for the runtime's precision.
    """

    def __init__(self, tokenizer: Any, text_encoder: Any, autocast: Any) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self._autocast = autocast
        self._embeddings = getattr(text_encoder, "text_model", text_encoder).embeddings

    @property
    def sequence_length(self) -> int:
        """L: 77 for CLIP."""
        return int(self.text_encoder.config.max_position_embeddings)

    @property
    def width(self) -> int:
        """D: 1024 for SD2-1's OpenCLIP-H text tower."""
        return int(self.text_encoder.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return self._embeddings.position_embedding.weight.device

    @torch.no_grad()
    def encode_text(self, text: str) -> torch.Tensor:
        """``"a photo of a cat"`` -> ``1 x L x D`` float32: padded to L, no attention mask (as SD does)."""
        ids = self.tokenizer(
            text, padding="max_length", max_length=self.sequence_length, truncation=True, return_tensors="pt"
        ).input_ids.to(self.device)
        with self._autocast():
            return self.text_encoder(ids)[0].float()

    def encode_token_embeddings(self, token_embeddings: torch.Tensor) -> torch.Tensor:
        """``B x L x D`` token-level embeddings -> ``B x L x D`` float32 states (differentiable)."""
        expected = (self.sequence_length, self.width)
        if token_embeddings.ndim != 3 or tuple(token_embeddings.shape[1:]) != expected:
            raise PromptError(
                f"token embeddings of shape {tuple(token_embeddings.shape)} do not fit this text encoder, "
                f"which needs (B, {expected[0]}, {expected[1]})"
            )
        weight = self._embeddings.position_embedding.weight
        replacement = token_embeddings.to(weight.device, weight.dtype)
        dummy_ids = torch.zeros(token_embeddings.shape[:2], dtype=torch.long, device=weight.device)
        handle = self._embeddings.register_forward_hook(lambda module, args, output: replacement)
        try:
            with self._autocast():
                return self.text_encoder(dummy_ids)[0].float()
        finally:
            handle.remove()

    @torch.no_grad()
    def start_and_end_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``[SOS + pos 0]`` and ``[EOS + pos L-1]``, each ``1 x 1 x D`` float32: a learned prompt's ends."""
        ids = torch.tensor([[self.tokenizer.bos_token_id, self.tokenizer.eos_token_id]], device=self.device)
        positions = torch.tensor([[0, self.sequence_length - 1]], device=self.device)
        both = self._embeddings(input_ids=ids, position_ids=positions).float()
        return both[:, :1], both[:, 1:]

    @torch.no_grad()
    def random_token_embeddings(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Embeddings of ``count`` random vocabulary ids at positions 1..count: ``1 x count x D``.

        This is how the paper initialises Single and Class prompts before training.
        """
        vocab = int(self._embeddings.token_embedding.weight.shape[0])
        ids = torch.randint(0, vocab, (1, count), generator=generator).to(self.device)
        positions = torch.arange(1, count + 1, device=self.device)[None]
        return self._embeddings(input_ids=ids, position_ids=positions).float()

    def splice(self, middle: torch.Tensor) -> torch.Tensor:
        """``[SOS+pos0] + middle + [EOS+pos(L-1)]``: ``B x (L-2) x D`` -> ``B x L x D`` token embeddings."""
        start, end = self.start_and_end_embeddings()
        batch = middle.shape[0]
        start, end = start.to(middle.device), end.to(middle.device)
        return torch.cat([start.expand(batch, -1, -1), middle.float(), end.expand(batch, -1, -1)], dim=1)
