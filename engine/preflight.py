"""Checks that need no model, run before any model loads (Stable Diffusion takes seconds to load).

Settings check themselves when built (:mod:`engine.settings`); what remains is what depends on
files: the learned prompts each variant names and, for Class prompts, every category it will be
asked for. The models themselves are checked when they load (layer and timestep against the
UNet, prompt shapes against the text encoder).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .models.weights import locate_weights
from .prompts.builder import check_prompt_source
from .prompts.library import PromptLibrary
from .prompts.spec import PromptSpec
from .settings import FeatureSettings

if TYPE_CHECKING:
    from .matcher import Matcher


def check_before_loading(
    matcher: Matcher,
    choices: Sequence[tuple[PromptSpec, FeatureSettings]],
    categories: Iterable[str | None] = (None,),
) -> None:
    """Refuse prompt choices that would fail after the models load.

    Args:
        matcher: where the prompt library and the DINOv2 weights are.
        choices: every (prompt, settings) to be computed; SIFT ones need no prompt.
        categories: the categories the prompts will be filled with (a dataset's categories;
            None keeps the prompt's own).

    Raises:
        PromptError: an unknown prompt set or file, a Class prompt without the category, a
            template without its category.
        WeightsNotFoundError: a CPM prompt without DINOv2 weights on disk.
    """
    library, files = PromptLibrary(matcher.sources.prompts), {}  # type: ignore[var-annotated]
    wanted = sorted(set(categories), key=lambda c: c or "")
    for prompt, settings in choices:
        if matcher.resolve_backend(settings.backend) == "sift":
            continue
        if prompt.variant == "cpm":
            locate_weights(matcher.sources.dinov2, "dinov2")
        for category in wanted if prompt.variant in ("class", "text") else (None,):
            filled = dataclasses.replace(prompt, category=category or prompt.category)
            check_prompt_source(filled, library, files)
