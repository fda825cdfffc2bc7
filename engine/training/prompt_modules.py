"""The trainable prompts, their initialisation as in the paper, and their official file contents.

* Single / Class (:class:`TokenPrompts`): 75 token embeddings per key ("dataset", or one per
  category), initialised from the embeddings of 75 random vocabulary ids at positions 1..75.
  Saved as ``caption.pt``: ``{key: 1 x 77 x D}`` with [SOS + pos 0] and [EOS + pos 76] spliced in.
* CPM (:class:`~engine.prompts.cpm.ConditionalPromptModule`): free parameters from U[0, 1) and
  PyTorch's default ``nn.Linear`` initialisation, as the official module. Saved as ``ckpt.pt``:
  its state dict, whose keys are the official ones.

Both modules map their inputs to the ``B x 75 x D`` middle tokens of a prompt; the trainer splices
the ends on with :meth:`TextConditioner.splice` outside the module, so that only trainable
parameters live in (and are all-reduced by) the distributed wrapper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..models.dinov2 import DinoV2
from ..prompts.cpm import ConditionalPromptModule
from ..prompts.text_encoder import TextConditioner
from .config import TrainingConfig


class TokenPrompts(nn.Module):
    """Learned middle tokens, one ``M x D`` block per key (M = 75 for CLIP).

    Args:
        keys: "dataset" for a Single prompt, category names for Class prompts (sorted).
        initial: ``K x M x D`` starting tokens, row i for ``keys[i]``.
    """

    def __init__(self, keys: Sequence[str], initial: torch.Tensor) -> None:
        super().__init__()
        if len(keys) != initial.shape[0]:
            raise ValueError(f"{len(keys)} keys for {initial.shape[0]} initial prompts")
        self.keys = tuple(keys)
        self._index = {key: index for index, key in enumerate(self.keys)}
        # A list, not a ParameterDict: category names from user files may contain "." or spaces.
        # M x D blocks stacked in forward: each then gets a dense slice of the gradient, as DDP's buckets want.
        self.tokens = nn.ParameterList([nn.Parameter(row.clone()) for row in initial.float()])

    def forward(self, keys: Sequence[str]) -> torch.Tensor:
        """``B`` keys -> ``B x M x D`` middle tokens."""
        return torch.stack([self.tokens[self._index[key]] for key in keys])

    @classmethod
    def initialise(cls, keys: Sequence[str], conditioner: TextConditioner, seed: int) -> TokenPrompts:
        """The paper's start: embeddings of random vocabulary ids, drawn key by key from one seeded generator."""
        generator = torch.Generator("cpu").manual_seed(seed)
        length = conditioner.sequence_length - 2
        initial = torch.cat([conditioner.random_token_embeddings(length, generator).cpu() for _ in keys])
        return cls(keys, initial)


def initial_cpm(conditioner: TextConditioner, dinov2: DinoV2, seed: int) -> ConditionalPromptModule:
    """A fresh conditional prompt module (G25-C50), initialised like the official one under ``seed``.

    The module draws from PyTorch's global generator (``torch.rand``, ``nn.Linear``); it is built
    inside ``fork_rng`` so that the seed fixes it without touching the caller's global state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConditionalPromptModule(conditioner.width, dinov2.hidden_size, dinov2.num_patches)


def parameter_groups(module: nn.Module, config: TrainingConfig) -> list[dict]:
    """Adam groups: CPM's ``linear_*`` layers at ``linear_learning_rate``, everything else at ``learning_rate``."""
    linear = [p for name, p in module.named_parameters() if name.startswith("linear")]
    free = [p for name, p in module.named_parameters() if not name.startswith("linear")]
    groups = [{"params": free, "lr": config.learning_rate}]
    if linear:
        groups.append({"params": linear, "lr": config.linear_learning_rate})
    return groups


@torch.no_grad()
def prompt_file_tensors(module: nn.Module, conditioner: TextConditioner) -> dict[str, torch.Tensor]:
    """What ``caption.pt`` (token prompts) or ``ckpt.pt`` (CPM) holds: float32 CPU tensors."""
    if isinstance(module, TokenPrompts):
        spliced = conditioner.splice(module(module.keys))  # K x 77 x D
        return {key: spliced[index : index + 1].cpu().clone() for index, key in enumerate(module.keys)}
    return {name: tensor.detach().float().cpu().clone() for name, tensor in module.state_dict().items()}
