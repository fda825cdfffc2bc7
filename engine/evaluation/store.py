"""Per-pair results on disk, so that a killed evaluation continues where it stopped.

Each process buffers its finished pairs and writes them, every ``save_every`` pairs and when it
stops, as a new part file (atomically: a part is complete or absent). A run reads every part in
the folder, whichever process or earlier run wrote it, and skips those pairs. One folder per
variant and dataset; its name carries a digest of everything that changes the numbers, so a
changed setting never picks up stale results.

::

    {out}/parts/{variant-slug}-{digest}/
      variant.json                    what these results are of (for people; not read back)
      part-p{process:03d}-{n:06d}.json    {"pairs": [PairScore.to_dict(), ...]}
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Protocol

from .. import atomic
from ..errors import DocumentError
from ..file_names import file_stem
from .scores import PairScore

PART_PATTERN = re.compile(r"part-p(\d+)-(\d+)\.json")


class SavedRecord(Protocol):
    """What a store keeps: a per-pair result that round-trips through a JSON object (e.g. PairScore)."""

    pair_id: str

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any: ...


def results_folder(out: Path, name: str, identity: dict[str, Any]) -> Path:
    """``out/parts/{slug}-{digest}``: the slug is for people, the digest of ``identity`` keeps runs apart."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
    slug = file_stem(name, max_length=40)
    return out / "parts" / f"{slug}-{digest}"


class ResultStore:
    """The results of one variant on one dataset.

    Args:
        folder: from :func:`results_folder`.
        identity: written to ``variant.json`` for the record.
        process: index of this process (part files of different processes never collide).
        save_every: pairs per part file; at most this many finished pairs are lost to a hard kill.
        record: the class of what is saved (:class:`PairScore` for ``eval``).
    """

    def __init__(
        self,
        folder: Path,
        identity: dict[str, Any],
        process: int = 0,
        save_every: int = 16,
        record: type[SavedRecord] = PairScore,
    ) -> None:
        if save_every < 1:
            raise ValueError("save_every must be at least 1")
        self.folder = folder
        self.identity = identity
        self.process = process
        self.save_every = save_every
        self.record = record
        self._pending: list[Any] = []
        self._next_part = 1 + max((n for p, n in self._part_numbers() if p == process), default=0)

    def completed(self) -> dict[str, Any]:
        """Every pair saved so far in this folder, by pair id."""
        scores: dict[str, Any] = {}
        for path in sorted(self.folder.glob("part-p*.json")):
            for score in _read_part(path, self.record):
                scores.setdefault(score.pair_id, score)
        return scores

    def add(self, score: SavedRecord) -> None:
        """Keep a finished pair; writes a part file once ``save_every`` are waiting."""
        self._pending.append(score)
        if len(self._pending) >= self.save_every:
            self.flush()

    def flush(self) -> None:
        """Write the waiting pairs (if any) as a new part file."""
        if not self._pending:
            return
        if not (self.folder / "variant.json").exists():
            atomic.write_json(self.folder / "variant.json", self.identity)
        path = self.folder / f"part-p{self.process:03d}-{self._next_part:06d}.json"
        atomic.write_json(path, {"pairs": [score.to_dict() for score in self._pending]})
        self._pending.clear()
        self._next_part += 1

    def _part_numbers(self) -> list[tuple[int, int]]:
        found = (PART_PATTERN.fullmatch(path.name) for path in self.folder.glob("part-p*.json"))
        return [(int(match[1]), int(match[2])) for match in found if match]


def _read_part(path: Path, record: type[SavedRecord]) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [record.from_dict(saved) for saved in data["pairs"]]
    except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError, RecursionError) as exc:
        raise DocumentError(
            f"saved results '{path}' are unreadable ({exc}); delete the file to recompute them"
        ) from exc
