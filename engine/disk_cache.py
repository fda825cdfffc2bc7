"""The persistent feature cache: VAE posteriors and feature maps kept on disk between runs.

One entry is one safetensors file (never pickle) named by the SHA-256 of its key. The key is a
JSON object of everything that changes the numbers (weights fingerprint, runtime, image digest,
prompt identity, every settings field via :func:`key_fields`); the file's metadata repeats it,
with a SHA-256 of the tensor bytes, so a truncated, corrupted or colliding entry is detected,
deleted and recomputed. Files are written atomically (:mod:`engine.atomic`), so two processes can
share the folder: a reader sees a whole entry or none, a vanished entry is a miss. The folder is
bounded in bytes: a read touches the entry's modification time, and after each store the entries
least recently used are deleted until the rest fit.

Where: ``$SD4MATCH_CACHE`` if set, else ``<data home>/cache`` (:func:`engine.paths.data_home`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import remove_stale_staging, write_bytes
from .cache import CacheStats
from .errors import SettingsError
from .paths import data_home

if TYPE_CHECKING:
    import torch

CACHE_ENV = "SD4MATCH_CACHE"
DEFAULT_DISK_CACHE_BYTES = 4 << 30  # ~340 SD2-1 feature maps at 768 (11.8 MB each)
FORMAT = "1"  # bump when the layout of an entry changes: old entries then simply miss
SUFFIX = ".safetensors"
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def cache_home() -> Path:
    """The cache folder: ``$SD4MATCH_CACHE``, else ``<data home>/cache`` (not created here)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else data_home() / "cache"


def parse_size(text: str) -> int:
    """``"4G"``, ``"500M"``, ``"1.5GB"``, ``"0"`` or a byte count -> bytes; :class:`SettingsError` else."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    try:
        value = float(cleaned[: len(cleaned) - len(unit)])
    except ValueError:
        raise SettingsError(f"cache size '{text}' is not a size (expected e.g. 4G, 500M or a byte count)") from None
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"cache size '{text}' must be zero or more")
    return int(value * _UNITS[unit])


def key_fields(value: Any) -> Any:
    """``value`` as JSON-ready data for a key: dataclasses field by field (derived from
    ``dataclasses.fields``, so a field added later is in every key at once), tuples as lists,
    torch devices by kind and dtypes by name. Anything else is refused rather than guessed."""
    import torch

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: key_fields(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__qualname__} | fields
    if isinstance(value, (tuple, list)):
        return [key_fields(item) for item in value]
    if isinstance(value, torch.device):
        return value.type
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a disk-cache key")


def format_bytes(count: int) -> str:
    """1536 -> "1.5 KiB": the largest binary unit that keeps the number at least 1 (bytes as they are)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    exponent = min(len(units) - 1, max(0, (count.bit_length() - 1) // 10))
    return f"{count} B" if exponent == 0 else f"{count / (1 << 10 * exponent):.1f} {units[exponent]}"


@dataclass(frozen=True)
class CacheInfo:
    """What ``sd4match cache info`` prints: the folder, its entries and their bytes."""

    root: Path
    entries: int
    bytes: int

    def summary(self) -> str:
        """One line for people, e.g. "12 entries, 141.6 MiB in /home/me/.local/share/sd4match/cache"."""
        return f"{self.entries} entries, {format_bytes(self.bytes)} in {self.root}"


class DiskCache:
    """A byte-bounded folder of safetensors entries shared by processes.

    Args:
        root: the folder (default :func:`cache_home`); created on the first store.
        max_bytes: bound on the summed entry sizes; 0 stores nothing.
    """

    def __init__(self, root: Path | None = None, max_bytes: int = DEFAULT_DISK_CACHE_BYTES) -> None:
        self.root = root if root is not None else cache_home()
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._lock = threading.Lock()

    # ---- entries ----

    def load(self, key: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
        """The tensors stored under ``key`` (CPU), or None when absent; a damaged entry is deleted."""
        text = _key_text(key)
        path = self._path(text)
        try:
            data = path.read_bytes()
        except OSError:  # absent, or evicted by another process a moment ago
            self.stats.misses += 1
            return None
        tensors = _decode(data, text)
        if tensors is None:
            with contextlib.suppress(OSError):
                path.unlink()
            self.stats.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used: evicted last
        self.stats.hits += 1
        return tensors

    def store(self, key: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> None:
        """Write ``tensors`` under ``key`` atomically, then evict down to the bound."""
        from safetensors.torch import save

        text = _key_text(key)
        cpu = {name: tensor.detach().to("cpu").contiguous() for name, tensor in tensors.items()}
        data = save(cpu, metadata={"key": text, "sha256": _checksum(cpu), "format": FORMAT})
        if len(data) > self.max_bytes:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        write_bytes(self._path(text), data)
        self.evict()

    def get_or_create(
        self, key: Mapping[str, Any], create: Callable[[], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """The stored tensors for ``key``, or ``create()``'s, stored on the way out."""
        found = self.load(key)
        if found is not None:
            return found
        tensors = create()
        self.store(key, tensors)
        return tensors

    # ---- the folder ----

    def evict(self) -> None:
        """Delete the least recently used entries until the rest fit in ``max_bytes``."""
        with self._lock:
            entries = self._entries()
            total = sum(size for _, size, _ in entries)
            for path, size, _ in sorted(entries, key=lambda entry: entry[2]):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(FileNotFoundError):  # another process evicted it first
                    path.unlink()
                total -= size

    def info(self) -> CacheInfo:
        entries = self._entries()
        return CacheInfo(self.root, len(entries), sum(size for _, size, _ in entries))

    def clear(self) -> int:
        """Delete every entry (and abandoned staging files); returns how many entries went."""
        removed = 0
        for path, _, _ in self._entries():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        remove_stale_staging(self.root)
        return removed

    def _entries(self) -> list[tuple[Path, int, float]]:
        """(path, bytes, last use) of every entry; entries vanishing meanwhile are skipped."""
        try:
            scanned = list(os.scandir(self.root))
        except OSError:
            return []
        entries = []
        for entry in scanned:
            if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                continue
            with contextlib.suppress(OSError):
                status = entry.stat(follow_symlinks=False)
                entries.append((Path(entry.path), status.st_size, status.st_mtime))
        return entries

    def _path(self, key_text: str) -> Path:
        return self.root / (hashlib.sha256(key_text.encode()).hexdigest()[:40] + SUFFIX)


def _key_text(key: Mapping[str, Any]) -> str:
    return json.dumps({"format": FORMAT, **key}, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _checksum(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the names and raw bytes of ``tensors`` (CPU, any dtype), in name order."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _decode(data: bytes, key_text: str) -> dict[str, torch.Tensor] | None:
    """The tensors of an entry whose header names ``key_text`` and whose bytes match its checksum;
    None for anything else (truncated, corrupted, another key under the same name)."""
    from safetensors.torch import load

    try:
        (header_length,) = struct.unpack("<Q", data[:8])
        metadata = json.loads(data[8 : 8 + header_length]).get("__metadata__", {})
        if metadata.get("key") != key_text or metadata.get("format") != FORMAT:
            return None
        tensors = load(data)
    except Exception:  # any damage at all means: recompute
        return None
    return tensors if _checksum(tensors) == metadata.get("sha256") else None
