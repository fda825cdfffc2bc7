"""Prompts: what conditions the UNet (pipeline step 0, docs/algorithm.md#prompts).

``spec`` says which prompt (a frozen :class:`PromptSpec`); ``text_encoder`` turns text or token
embeddings into UNet conditioning; ``files`` and ``library`` read the released learned-prompt
files; ``cpm`` is the conditional prompt module; ``builder`` puts them together with caching.
"""

from .spec import VARIANTS, PromptSpec

__all__ = ["VARIANTS", "PromptSpec"]
