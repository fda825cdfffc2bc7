"""From a :class:`PromptSpec` (and, for CPM, the image pair) to UNet conditioning, cached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..cache import LRUCache, tensor_bytes
from ..errors import PromptError
from ..images import LoadedImage
from ..models.dinov2 import DinoV2
from .cpm import ConditionalPromptModule
from .files import SINGLE_KEY, PromptFile, cpm_state, read_prompt_file, require_key, token_embeddings
from .library import PromptLibrary, read_prompt_bytes
from .spec import LEARNED_VARIANTS, PromptSpec
from .text_encoder import TextConditioner


@dataclass(frozen=True, eq=False)
class Conditioning:
    """UNet conditioning for one prompt choice.

    Attributes:
        states: ``1 x L x D`` float32 encoder hidden states on the model device.
        identity: names the prompt in feature-cache keys (for CPM it includes both images).
        record: what exports should say about the prompt (resolved text, file and digest).
    """

    states: torch.Tensor
    identity: str
    record: dict[str, Any] = field(default_factory=dict)


class PromptBuilder:
    """Builds and caches conditioning.

    Args:
        conditioner: the text encoder wrapper of the loaded SD model.
        library: where learned prompts are looked up.
        load_dinov2: returns the DINOv2 model, loading it on first use (only CPM calls it).
        cache_bytes: budget of the conditioning cache (one SD2-1 prompt is 315 kB).
    """

    def __init__(
        self,
        conditioner: TextConditioner,
        library: PromptLibrary,
        load_dinov2: Callable[[], DinoV2],
        cache_bytes: int = 64 << 20,
    ) -> None:
        self.conditioner = conditioner
        self.library = library
        self._load_dinov2 = load_dinov2
        self.cache: LRUCache[Conditioning] = LRUCache(cache_bytes, lambda c: tensor_bytes(c.states))
        self._patches: LRUCache[torch.Tensor] = LRUCache(cache_bytes, tensor_bytes)
        self._cpm_modules: dict[str, ConditionalPromptModule] = {}
        self._files: dict[tuple[str, float], PromptFile] = {}

    def conditioning(self, spec: PromptSpec, source: LoadedImage, target: LoadedImage) -> Conditioning:
        """Conditioning for ``spec``; source and target matter only for CPM."""
        if spec.variant in ("empty", "text"):
            text = spec.resolved_text()
            return self.cache.get_or_create(("text", text), lambda: self._text(text))
        prompt = self._prompt_file(spec)
        if spec.variant == "single":
            key = ("single", prompt.sha256)
            return self.cache.get_or_create(key, lambda: self._learned(prompt, SINGLE_KEY, spec))
        if spec.variant == "class":
            category = spec.prompt_category
            if not category:
                raise PromptError("the 'class' prompt needs a category (--category; app: the Category box)")
            return self.cache.get_or_create(
                ("class", prompt.sha256, category), lambda: self._learned(prompt, category, spec)
            )
        key = ("cpm", prompt.sha256, source.digest, target.digest)
        return self.cache.get_or_create(key, lambda: self._cpm(prompt, spec, source, target))

    # ---- the variants ----

    def _text(self, text: str) -> Conditioning:
        return Conditioning(self.conditioner.encode_text(text), *describe_text(text))

    def _learned(self, prompt: PromptFile, key: str, spec: PromptSpec) -> Conditioning:
        embeds = token_embeddings(prompt, key, self.conditioner.sequence_length, self.conditioner.width)
        with torch.no_grad():
            states = self.conditioner.encode_token_embeddings(embeds)
        return Conditioning(states, *describe_learned(spec.variant, prompt, key))

    def _cpm(self, prompt: PromptFile, spec: PromptSpec, source: LoadedImage, target: LoadedImage) -> Conditioning:
        dinov2 = self._load_dinov2()
        module = self._cpm_module(prompt, dinov2)
        with torch.no_grad():
            middle = module(self._dino_patches(dinov2, source)[None], self._dino_patches(dinov2, target)[None])
            states = self.conditioner.encode_token_embeddings(self.conditioner.splice(middle))
        return Conditioning(states, *describe_cpm(prompt, source, target, dinov2.identity))

    # ---- helpers ----

    def _prompt_file(self, spec: PromptSpec) -> PromptFile:
        return read_spec_file(spec, self.library, self._files)

    def _cpm_module(self, prompt: PromptFile, dinov2: DinoV2) -> ConditionalPromptModule:
        if prompt.sha256 not in self._cpm_modules:
            module = ConditionalPromptModule.from_prompt_file(
                prompt,
                text_width=self.conditioner.width,
                dino_width=dinov2.hidden_size,
                num_patches=dinov2.num_patches,
                middle_length=self.conditioner.sequence_length - 2,
            )
            self._cpm_modules[prompt.sha256] = module.to(self.conditioner.device)
        return self._cpm_modules[prompt.sha256]

    def _dino_patches(self, dinov2: DinoV2, image: LoadedImage) -> torch.Tensor:
        return self._patches.get_or_create((dinov2.identity, image.digest), lambda: dinov2.patch_features(image.rgb))


# What names a prompt in cache keys and what exports say about it, known without any model: the
# builder above and the Matcher's warm start from the disk cache both take them from here.
Description = tuple[str, dict[str, Any]]


def describe_prompt(
    spec: PromptSpec,
    read_file: Callable[[PromptSpec], PromptFile],
    source: LoadedImage,
    target: LoadedImage,
    dinov2_identity: Callable[[], str],
) -> Description:
    """``(identity, record)`` of the conditioning ``spec`` gives, as :meth:`PromptBuilder.conditioning`
    would name it, without encoding anything (``read_file`` reads the learned prompt's file)."""
    if spec.variant in ("empty", "text"):
        return describe_text(spec.resolved_text())
    prompt = read_file(spec)
    if spec.variant == "single":
        return describe_learned("single", prompt, SINGLE_KEY)
    if spec.variant == "class":
        if not spec.prompt_category:
            raise PromptError("the 'class' prompt needs a category (--category; app: the Category box)")
        return describe_learned("class", prompt, spec.prompt_category)
    return describe_cpm(prompt, source, target, dinov2_identity())


def describe_text(text: str) -> Description:
    return f"text:{text}", {"text": text}


def describe_learned(variant: str, prompt: PromptFile, key: str) -> Description:
    """Single and Class prompts: the file's digest (and the category a Class prompt is looked up by)."""
    record = {"file": prompt.location, "sha256": prompt.sha256}
    if variant == "class":
        return f"class:{prompt.sha256[:16]}:{key}", record | {"category": key}
    return f"{variant}:{prompt.sha256[:16]}", record


def describe_cpm(prompt: PromptFile, source: LoadedImage, target: LoadedImage, dinov2_identity: str) -> Description:
    """CPM: the file's digest and both images (the prompt is made from the pair)."""
    identity = f"cpm:{prompt.sha256[:16]}:{source.digest[:16]}:{target.digest[:16]}"
    return identity, {"file": prompt.location, "sha256": prompt.sha256, "dinov2": dinov2_identity}


def read_spec_file(
    spec: PromptSpec, library: PromptLibrary, cache: dict[tuple[str, float], PromptFile] | None = None
) -> PromptFile:
    """The learned-prompt file of ``spec``: its explicit ``prompt_file``, else the library's for its set.

    ``cache`` (keyed by resolved path and mtime) saves re-reading an explicit file.
    """
    if spec.prompt_file is None:
        return library.read(library.find(spec.variant, spec.prompt_set))
    path = Path(spec.prompt_file).expanduser()
    if not path.is_file():
        raise PromptError(f"prompt file '{path}' does not exist")
    key = (str(path.resolve()), path.stat().st_mtime)
    if cache is None or key not in cache:
        prompt = read_prompt_file(read_prompt_bytes(path), str(path))
        if cache is None:
            return prompt
        cache[key] = prompt
    return cache[key]


def check_prompt_source(
    spec: PromptSpec, library: PromptLibrary, cache: dict[tuple[str, float], PromptFile] | None = None
) -> None:
    """Everything about ``spec`` that needs no model, so that a bad choice fails before loading one.

    Text templates need their category; learned prompts need their file (set or explicit file),
    finite tensors, and the key they are looked up by (Single, the category's Class prompt, or
    CPM's tensors). Shapes are checked against the loaded text encoder later. ``cache`` as in
    :func:`read_spec_file`.

    Raises:
        PromptError: naming the set, file, category or key at fault.
    """
    if spec.variant not in LEARNED_VARIANTS:
        spec.resolved_text()
        return
    prompt = read_spec_file(spec, library, cache)
    if spec.variant == "single":
        require_key(prompt, SINGLE_KEY)
    elif spec.variant == "class":
        if not spec.prompt_category:
            raise PromptError("the 'class' prompt needs a category (--category; app: the Category box)")
        require_key(prompt, spec.prompt_category)
    else:
        cpm_state(prompt)
