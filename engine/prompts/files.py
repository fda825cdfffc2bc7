"""Reading learned-prompt files in the formats of the official release.

* ``caption.pt`` (Single / Class): a dict of ``1 x 77 x D`` token-level tensors, key ``"dataset"``
  for Single, one key per category for Class.
* ``ckpt.pt`` (CPM): a state dict with ``global_embeds``, ``positional_embedding``,
  ``alpha_cond``, ``linear_C.{weight,bias}``, ``linear_N.{weight,bias}``; other keys (CLIP
  ``position_ids`` left over by some transformers versions) are ignored.

Files are read with ``torch.load(weights_only=True)``: tensors only, no pickled code runs. A
floating-point tensor holding NaN or infinity is refused on reading, so it never reaches a model.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import PromptError

if TYPE_CHECKING:
    import torch

CPM_KEYS = (
    "global_embeds",
    "positional_embedding",
    "alpha_cond",
    "linear_C.weight",
    "linear_C.bias",
    "linear_N.weight",
    "linear_N.bias",
)
SINGLE_KEY = "dataset"


@dataclass(frozen=True, eq=False)
class PromptFile:
    """A learned-prompt file's tensors.

    Attributes:
        location: where it came from (a path, or ``archive.zip!member``), for messages.
        sha256: digest of the file bytes, so caches notice a changed file.
        tensors: name -> float32 CPU tensor.
    """

    location: str
    sha256: str
    tensors: dict[str, torch.Tensor]


def read_prompt_file(data: bytes, location: str) -> PromptFile:
    """Parse file bytes into a :class:`PromptFile` (a dict of tensors, nothing else)."""
    import torch  # here, not with the module: `sd4match tune --help` reads the library's names without torch

    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a tensor pickle.
        raise PromptError(f"cannot read prompt file '{location}': not a PyTorch tensor file ({exc})") from exc
    if not isinstance(loaded, dict) or not loaded:
        raise PromptError(f"prompt file '{location}' does not hold a dict of tensors (got {type(loaded).__name__})")
    tensors = {}
    for key, value in loaded.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            tensor = value.detach().float()
            if not bool(torch.isfinite(tensor).all()):
                raise PromptError(
                    f"prompt file '{location}': tensor '{key}' holds NaN or infinite values "
                    f"(a diverged or damaged prompt; tune it again or restore the file)"
                )
            tensors[str(key)] = tensor
        elif isinstance(value, torch.Tensor):
            tensors[str(key)] = value.detach().float()  # integer bookkeeping, e.g. CLIP position_ids
    if not tensors:
        raise PromptError(f"prompt file '{location}' holds no tensors")
    return PromptFile(location=location, sha256=hashlib.sha256(data).hexdigest(), tensors=tensors)


def require_key(prompt: PromptFile, key: str) -> None:
    """Refuse a caption file without the Single prompt (``key`` "dataset") or a category's Class prompt."""
    if key not in prompt.tensors:
        known = ", ".join(sorted(prompt.tensors))
        what = "Single prompt" if key == SINGLE_KEY else f"Class prompt for category '{key}'"
        raise PromptError(f"prompt file '{prompt.location}' has no {what}; its keys are: {known}")


def token_embeddings(prompt: PromptFile, key: str, length: int, width: int) -> torch.Tensor:
    """One ``1 x L x D`` token-level prompt from a caption file, with a clear error on mismatch."""
    require_key(prompt, key)
    tensor = prompt.tensors[key]
    if tensor.ndim == 2:
        tensor = tensor[None]
    if tuple(tensor.shape) != (1, length, width):
        raise PromptError(
            f"prompt '{key}' in '{prompt.location}' has shape {tuple(prompt.tensors[key].shape)}, but the loaded "
            f"text encoder needs (1, {length}, {width}); the prompt was trained for another model"
            + (" (SD 1.x has D = 768, SD 2.x D = 1024)" if tensor.shape[-1] != width else "")
        )
    return tensor


def cpm_state(prompt: PromptFile) -> dict[str, torch.Tensor]:
    """The CPM tensors under their official names; shapes are checked when the module is built."""
    missing = [key for key in CPM_KEYS if key not in prompt.tensors]
    if missing:
        raise PromptError(
            f"'{prompt.location}' is not a CPM checkpoint: missing {', '.join(missing)} "
            f"(found {', '.join(sorted(prompt.tensors)) or 'nothing'})"
        )
    return {key: prompt.tensors[key] for key in CPM_KEYS}
