"""Named engine settings to compare side by side, and the ``--variants`` mini-language.

A variant is everything that changes a feature map: backend, prompt and feature settings.
Comma-separated items, each ``kind[:argument][@option=value...]``:

==========================  =================================================================
``empty``                   the empty prompt
``text`` / ``text:free``    the base template (``--text``) / any free text (no commas)
``single[:set]``            learned Single prompt (set defaults to ``--prompt-set``)
``class[:category]``        learned Class prompt (category defaults to ``--category``)
``cpm[:set]``               learned conditional prompt (needs DINOv2)
``sift``                    the weights-free dense SIFT baseline
==========================  =================================================================

Options: ``t=261`` (timestep), ``layer=2``, ``ensemble=4``, ``seed=1``, ``ts=50+200`` (also
average these timesteps; exploratory), ``dual`` or ``dual=2:200`` (dual-layer recipe: second
layer and its timestep; exploratory). Example: ``"single,class:cat,cpm,text@t=261,empty@dual"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SettingsError
from .prompts.spec import VARIANTS, PromptSpec
from .settings import DualLayer, FeatureSettings

if TYPE_CHECKING:
    from .matcher import Matcher

EXPLORATORY_NOTE = "exploratory: effect not established in the SD4Match paper"


@dataclass(frozen=True)
class Variant:
    """A named (prompt, settings) choice.

    Attributes:
        name: display name, unique within a comparison (the item text by default).
        prompt: the prompt.
        settings: feature settings, including the backend.
    """

    name: str
    prompt: PromptSpec
    settings: FeatureSettings

    @property
    def exploratory(self) -> bool:
        """True for recipes beyond the paper (dual layer, multi-timestep)."""
        return self.settings.dual_layer is not None or bool(self.settings.extra_timesteps)


def parse_variants(text: str, base_prompt: PromptSpec, base_settings: FeatureSettings) -> list[Variant]:
    """Parse a ``--variants`` string; unspecified parts come from the base prompt and settings."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SettingsError('no variants given (e.g. --variants "single,class:cat,cpm,text")')
    variants = [parse_variant(item, base_prompt, base_settings) for item in items]
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise SettingsError(f"variants repeat: {', '.join(names)}")
    return variants


def require_stable_diffusion(variants: list[Variant], matcher: Matcher) -> None:
    """Refuse variants whose "auto" backend would quietly become SIFT for want of weights.

    Falling back is right for a single match, but in a comparison it would show several identical
    SIFT results under prompt names; the weights-free baseline is requested as the variant "sift".
    """
    for variant in variants:
        if variant.settings.backend == "auto" and matcher.resolve_backend("auto") == "sift":
            raise SettingsError(
                f"variant '{variant.name}' needs Stable Diffusion: {matcher.sd_unavailable_reason()} "
                f"(compare with the weights-free baseline as the variant 'sift')"
            )


def parse_variant(item: str, base_prompt: PromptSpec, base_settings: FeatureSettings) -> Variant:
    head, *options = item.split("@")
    kind, _, argument = head.partition(":")
    kind, argument = kind.strip(), argument.strip()
    settings = dataclasses.replace(
        base_settings, backend="sd" if base_settings.backend == "sift" else base_settings.backend
    )
    prompt = dataclasses.replace(base_prompt, prompt_file=None)
    if kind == "sift":
        settings = dataclasses.replace(settings, backend="sift")
    elif kind in ("empty", "single", "cpm"):
        prompt = dataclasses.replace(prompt, variant=kind, prompt_set=argument or prompt.prompt_set)
    elif kind == "text":
        prompt = dataclasses.replace(prompt, variant="text", text=argument or prompt.text)
    elif kind == "class":
        prompt = dataclasses.replace(prompt, variant="class", category=argument or prompt.category)
    else:
        raise SettingsError(f"unknown variant '{kind}' in '{item}'; use one of {', '.join((*VARIANTS, 'sift'))}")
    for option in options:
        settings = _apply_option(settings, option.strip(), item)
    return Variant(name=item, prompt=prompt, settings=settings)


def _apply_option(settings: FeatureSettings, option: str, item: str) -> FeatureSettings:
    key, _, value = option.partition("=")
    try:
        if key == "t":
            return dataclasses.replace(settings, timestep=int(value))
        if key in ("layer", "ensemble", "seed", "size"):
            return dataclasses.replace(settings, **{key: int(value)})
        if key == "ts":
            return dataclasses.replace(settings, extra_timesteps=tuple(int(v) for v in value.split("+") if v))
        if key == "dual":
            if not value:
                return dataclasses.replace(settings, dual_layer=DualLayer())
            layer, _, timestep = value.partition(":")
            return dataclasses.replace(settings, dual_layer=DualLayer(int(layer), int(timestep or 200)))
    except ValueError:
        raise SettingsError(f"option '{option}' of variant '{item}' needs an integer value") from None
    raise SettingsError(
        f"unknown option '{option}' in variant '{item}' (use t=, layer=, ensemble=, seed=, size=, ts=, dual)"
    )
