"""Finding model weights on disk, saying clearly what is missing, and fetching them on request.

A model source is either a local folder or a Hugging Face hub id. Hub ids are only ever read
from the local Hugging Face cache here; downloading is explicit (``sd4match download``), so
that opening the app never starts a multi-gigabyte transfer by surprise and offline machines
behave exactly like online ones.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsNotFoundError

# Per component: the files that must exist. A tuple entry means "any one of these".
FileRule = str | tuple[str, ...]

SD_FILES: dict[str, list[FileRule]] = {
    "unet": ["config.json", ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")],
    "vae": ["config.json", ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")],
    "text_encoder": ["config.json", ("model.safetensors", "pytorch_model.bin")],
    "tokenizer": [("tokenizer.json", "vocab.json")],
    "scheduler": ["scheduler_config.json"],
}
DINOV2_FILES: dict[str, list[FileRule]] = {
    ".": ["config.json", ("model.safetensors", "pytorch_model.bin")],
}
# What `sd4match download` fetches: the safetensors weights only, no decoder-only or fp16 extras.
SD_DOWNLOAD_PATTERNS = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/*",
    "scheduler/scheduler_config.json",
]
DINOV2_DOWNLOAD_PATTERNS = ["config.json", "model.safetensors", "preprocessor_config.json"]

SMALL_FILE_BYTES = 1 << 20  # configs and tokenizers are read whole into fingerprints; weights are not

KINDS = {
    "sd": ("Stable Diffusion 2-1", SD_FILES, SD_DOWNLOAD_PATTERNS, "--model (app: Settings)", "about 5.2 GB"),
    "dinov2": ("DINOv2", DINOV2_FILES, DINOV2_DOWNLOAD_PATTERNS, "--dinov2 (app: Settings)", "about 350 MB"),
}


@dataclass(frozen=True)
class LocatedWeights:
    """A complete model folder.

    Attributes:
        folder: the folder holding the files (a hub cache snapshot or the user's folder).
        source: what the user asked for (hub id or path), for messages and exports.
        revision: the hub commit the snapshot belongs to; None for a plain local folder.
    """

    folder: Path
    source: str
    revision: str | None

    @property
    def identity(self) -> str:
        """Names these weights in memory-cache keys and exports: source plus hub revision or folder."""
        return f"{self.source}@{self.revision or self.folder.resolve()}"


def looks_like_path(source: str) -> bool:
    """A source is a path if it exists or is written like one; otherwise a hub id."""
    return (
        os.path.exists(os.path.expanduser(source))
        or source.startswith((".", "/", "~", "\\"))
        or source.count("/") != 1
        or (len(source) > 1 and source[1] == ":")
    )


def locate_weights(source: str, kind: str) -> LocatedWeights:
    """Find a complete model folder for ``source`` without any network access.

    Raises:
        WeightsNotFoundError: naming what was tried, what is missing and how to get it.
    """
    title, rules, _, option, size = KINDS[kind]
    if looks_like_path(source):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise WeightsNotFoundError(
                f"{title} weights not found: '{source}' is not a folder. Pass {option} with a folder in "
                f"diffusers/transformers layout, or a hub id and run `sd4match download`."
            )
        _require_files(folder, rules, title, source, option)
        return LocatedWeights(folder=folder, source=source, revision=None)
    folder = _cached_snapshot(source, kind)
    if folder is None:
        from huggingface_hub import constants

        raise WeightsNotFoundError(
            f"{title} weights not found: '{source}' is not a local folder and is not in the Hugging Face "
            f"cache ({constants.HF_HUB_CACHE}). Fetch them with `sd4match download --{kind} {source}` "
            f"({size}), or pass {option} with a local folder."
        )
    _require_files(folder, rules, title, source, option)
    return LocatedWeights(folder=folder, source=source, revision=folder.name)


def download_weights(
    source: str, kind: str, tqdm_class: type | None = None, local_dir: Path | None = None
) -> LocatedWeights:
    """Fetch only the files the engine needs for ``kind`` from the hub, then locate them."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    title, _, patterns, option, _ = KINDS[kind]
    try:
        folder = snapshot_download(
            source,
            allow_patterns=patterns,
            tqdm_class=tqdm_class,
            local_dir=str(local_dir) if local_dir else None,
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise WeightsNotFoundError(
            f"could not download {title} weights from '{source}': {exc}. Check the hub id and your network "
            f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '0')}), or pass {option} with a local folder."
        ) from exc
    return locate_weights(str(folder) if local_dir else source, kind)


def _cached_snapshot(repo_id: str, kind: str) -> Path | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=KINDS[kind][2], local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None


def missing_files(folder: Path, rules: dict[str, list[FileRule]]) -> list[str]:
    """The rules that ``folder`` does not satisfy, as relative paths ("a | b" for alternatives)."""
    missing: list[str] = []
    for sub, files in rules.items():
        for rule in files:
            options = (rule,) if isinstance(rule, str) else rule
            if not any((folder / sub / name).is_file() for name in options):
                missing.append(" | ".join(str(Path(sub) / name) for name in options))
    return missing


def _require_files(folder: Path, rules: dict[str, list[FileRule]], title: str, source: str, option: str) -> None:
    missing = missing_files(folder, rules)
    if missing:
        raise WeightsNotFoundError(
            f"{title} weights in '{folder}' (from '{source}') are incomplete; missing: {', '.join(missing)}. "
            f"Re-run `sd4match download`, or pass {option} with a complete folder."
        )


def quiet_library_output() -> None:
    """Silence per-file progress bars and info logs of diffusers/transformers while loading.

    The engine reports its own stages; hundreds of "Loading weights" bars only bury them.
    """
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    for library in (diffusers_logging, transformers_logging):
        library.disable_progress_bar()
        library.set_verbosity_error()


def weights_fingerprint(weights: LocatedWeights) -> str:
    """Names the exact weights in persistent cache keys.

    A hub snapshot is named by its commit. A plain folder has no revision, so its fingerprint is
    a SHA-256 over the contents of its small files (configs, tokenizer) and the size and
    modification time of its large ones (weights): replacing or editing any file changes it,
    without reading gigabytes at every start.
    """
    if weights.revision is not None:
        return f"{weights.source}@{weights.revision}"
    digest = hashlib.sha256()
    folder = weights.folder.resolve()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        status = path.stat()
        digest.update(str(path.relative_to(folder)).encode())
        if status.st_size <= SMALL_FILE_BYTES:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{status.st_size}:{status.st_mtime_ns}".encode())
    return f"folder:{digest.hexdigest()}"
