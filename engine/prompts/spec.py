"""Which prompt conditions the UNet: a small frozen value, cheap to compare and to record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import PromptError, SettingsError
from .categories import canonical_category

Variant = Literal["empty", "text", "single", "class", "cpm"]
VARIANTS: tuple[str, ...] = ("empty", "text", "single", "class", "cpm")
LEARNED_VARIANTS: tuple[str, ...] = ("single", "class", "cpm")
DEFAULT_TEMPLATE = "a photo of a {category}"


@dataclass(frozen=True)
class PromptSpec:
    """A prompt choice.

    Attributes:
        variant: "empty" (""), "text" (``text`` with ``{category}`` filled in), or a learned prompt:
            "single" (one for all images), "class" (one per category), "cpm" (conditional, from
            DINOv2 features of the image pair).
        text: the template or free text of the "text" variant.
        category: object category; needed by "class" and by templates that contain ``{category}``.
        prompt_set: which learned prompts: "spair", "pfpascal" (released), or the name of a tuned set.
        prompt_file: an explicit ``caption.pt`` / ``ckpt.pt``; overrides the library lookup.
    """

    variant: Variant = "empty"
    text: str = DEFAULT_TEMPLATE
    category: str | None = None
    prompt_set: str = "spair"
    prompt_file: str | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise SettingsError(f"unknown prompt variant '{self.variant}'; choose one of {', '.join(VARIANTS)}")

    @property
    def depends_on_pair(self) -> bool:
        """CPM prompts are computed from both images, so features depend on the partner image."""
        return self.variant == "cpm"

    @property
    def prompt_category(self) -> str | None:
        return canonical_category(self.category) if self.category else None

    def resolved_text(self) -> str:
        """The literal text of an "empty" or "text" prompt."""
        if self.variant == "empty":
            return ""
        if "{category}" in self.text:
            if not self.category:
                raise PromptError(
                    f"the text template '{self.text}' needs a category (--category; app: the Category box)"
                )
            return self.text.replace("{category}", self.prompt_category or "")
        return self.text

    @property
    def label(self) -> str:
        """Short human-readable name, e.g. ``text "a photo of a cat"`` or ``class/spair cat``."""
        if self.variant in ("empty", "text"):
            try:
                return f'{self.variant} "{self.resolved_text()}"'
            except PromptError:
                return f'text "{self.text}"'
        where = self.prompt_file or self.prompt_set
        suffix = f" {self.prompt_category}" if self.variant == "class" and self.category else ""
        return f"{self.variant}/{where}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptSpec:
        return cls(**{k: data[k] for k in ("variant", "text", "category", "prompt_set", "prompt_file") if k in data})
