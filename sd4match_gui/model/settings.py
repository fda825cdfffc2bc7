"""What the user chose: engine settings, comparison variants and display options (Qt-free).

These values travel in session files (under ``"session"``) and in the app's preferences, so each
class converts to and from plain JSON dicts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from engine import FeatureSettings, LocalisationSettings, PromptSpec
from engine.errors import EngineError
from engine.variants import Variant, parse_variant, parse_variants

PRIMARY_NAME = "current"
COLOUR_MAPS = ("viridis", "inferno", "magma", "plasma", "turbo", "CET-L4")
DEFAULT_COMPARE_VARIANTS = "empty,text,single,class,cpm"


@dataclass(frozen=True)
class DisplaySettings:
    """How heatmaps and links look.

    Attributes:
        colormap: pyqtgraph colour map name for the heatmap.
        opacity: heatmap opacity in [0, 1].
        heatmap_visible: draw the heatmap of the selected point.
        lines_visible: draw lines between paired points.
        hover_preview: while the cursor is on the source, show where that pixel lands.
    """

    colormap: str = "viridis"
    opacity: float = 0.45
    heatmap_visible: bool = True
    lines_visible: bool = True
    hover_preview: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DisplaySettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TunedPrompt:
    """A prompt tuned in the app, compared beside the stock variants.

    (The mini-language cannot name a tuned Class set: ``class:...`` takes a category.)

    Attributes:
        variant: "single", "class" or "cpm".
        prompt_set: the tuned set's name; its files are in the prompt library under that name.
        category: for a Class set tuned on pairs of one category, that category (the session's
            category is used otherwise).
    """

    variant: str
    prompt_set: str
    category: str | None = None

    @property
    def name(self) -> str:
        return f"{self.variant}/{self.prompt_set}"

    def as_variant(self, base_prompt: PromptSpec, base_settings: FeatureSettings) -> Variant:
        """The variant, on the same feature settings as the stock ones (``parse_variant``'s rules)."""
        argument = (self.category or base_prompt.category or "") if self.variant == "class" else self.prompt_set
        prompt = dataclasses.replace(base_prompt, prompt_set=self.prompt_set)
        return dataclasses.replace(parse_variant(f"{self.variant}:{argument}", prompt, base_settings), name=self.name)


@dataclass(frozen=True)
class CompareSettings:
    """The comparison mode.

    Attributes:
        variants: the variant list in ``engine.variants`` mini-language (``"single,class:cat,text@t=261"``).
        disabled: names of variants toggled off (kept in the list, not computed or shown).
        active: whether the target side shows one view per variant.
        tuned: prompts tuned in the app, shown after ``variants``.
    """

    variants: str = DEFAULT_COMPARE_VARIANTS
    disabled: tuple[str, ...] = ()
    active: bool = False
    tuned: tuple[TunedPrompt, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareSettings:
        return cls(
            variants=str(data.get("variants", DEFAULT_COMPARE_VARIANTS)),
            disabled=tuple(data.get("disabled", ())),
            active=bool(data.get("active", False)),
            tuned=tuple(TunedPrompt(**item) for item in data.get("tuned", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return data | {"disabled": list(self.disabled), "tuned": list(data["tuned"])}


@dataclass(frozen=True)
class SessionSettings:
    """Everything that decides predictions and their display.

    Attributes:
        prompt, features: the primary engine setting (single mode, and the base of variants).
        localisation: how a score map becomes a point (shared by all variants).
        compare: the comparison mode's variants.
        display: heatmap and line options.
    """

    prompt: PromptSpec = field(default_factory=PromptSpec)
    features: FeatureSettings = field(default_factory=lambda: FeatureSettings(backend="auto"))
    localisation: LocalisationSettings = field(default_factory=LocalisationSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)

    @property
    def primary(self) -> Variant:
        return Variant(PRIMARY_NAME, self.prompt, self.features)

    def compare_variants(self) -> list[Variant]:
        """All listed variants (enabled or not), then the tuned prompts; raises EngineError on a malformed list."""
        listed = parse_variants(self.compare.variants, self.prompt, self.features)
        names = {v.name for v in listed}
        tuned = [t.as_variant(self.prompt, self.features) for t in self.compare.tuned if t.name not in names]
        return listed + tuned

    def active_variants(self) -> list[Variant]:
        """What the target side shows: the enabled comparison variants, or the primary alone.

        A malformed variant list falls back to the primary (the dialog refuses such lists, so
        only a hand-edited session file can hit this).
        """
        if not self.compare.active:
            return [self.primary]
        try:
            variants = [v for v in self.compare_variants() if v.name not in self.compare.disabled]
        except EngineError:
            return [self.primary]
        return variants or [self.primary]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.to_dict(),
            "features": self.features.to_dict(),
            "localisation": dataclasses.asdict(self.localisation),
            "compare": self.compare.to_dict(),
            "display": dataclasses.asdict(self.display),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSettings:
        """Read settings; missing parts take their defaults (older files, hand-written files)."""
        defaults = cls()
        return cls(
            prompt=PromptSpec.from_dict(data["prompt"]) if "prompt" in data else defaults.prompt,
            features=FeatureSettings.from_dict(data["features"]) if "features" in data else defaults.features,
            localisation=LocalisationSettings(**data["localisation"])
            if "localisation" in data
            else defaults.localisation,
            compare=CompareSettings.from_dict(data.get("compare", {})),
            display=DisplaySettings.from_dict(data.get("display", {})),
        )
