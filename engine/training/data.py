"""The pairs a prompt is tuned or validated on, with the checks and the record of where they came from."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..datasets import PairSample, open_dataset
from ..errors import SettingsError
from ..evaluation.runner import select_pairs
from ..prompts.categories import canonical_category
from ..prompts.files import SINGLE_KEY


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Annotated pairs and their provenance.

    Attributes:
        pairs: the pairs, in a fixed order (training shuffles them with its own seed).
        provenance: where they came from, recorded in the sidecar (e.g. ``{"kind": "spair",
            "root": "/data/SPair-71k", "split": "trn"}``); the app may describe its session.
    """

    pairs: tuple[PairSample, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, kind: str, root: str | Path | Sequence[str | Path], split: str = "trn") -> TrainingSet:
        """Read a dataset split (see :func:`engine.datasets.open_dataset`)."""
        roots = [str(Path(r).expanduser().resolve()) for r in ([root] if isinstance(root, str | Path) else root)]
        provenance = {"kind": kind, "root": roots[0] if len(roots) == 1 else roots}
        if kind != "json":
            provenance["split"] = split
        return cls(tuple(open_dataset(kind, root, split)), provenance)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def num_points(self) -> int:
        return sum(pair.num_points for pair in self.pairs)

    def fingerprint(self) -> str:
        """SHA-256 over pair ids, image file names and points: resuming checks the data did not change."""
        digest = hashlib.sha256()
        for pair in self.pairs:
            digest.update(f"{pair.pair_id}|{pair.source_path.name}|{pair.target_path.name}|{pair.flip}".encode())
            digest.update(pair.source_points.tobytes() + pair.target_points.tobytes())
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Provenance plus counts, for the sidecar."""
        categories = Counter(canonical_category(pair.category) for pair in self.pairs)
        return {
            **self.provenance,
            "pairs": len(self.pairs),
            "points": self.num_points,
            "categories": dict(sorted(categories.items())),
            "sha256": self.fingerprint(),
        }

    def subset(self, limit: int | None) -> TrainingSet:
        """``limit`` pairs spread evenly over the set (every category shows up), or all of them."""
        if limit is None or limit >= len(self.pairs):
            return self
        return TrainingSet(tuple(select_pairs(self.pairs, limit)), {**self.provenance, "limit": limit})

    def usable(self, min_points: int, what: str) -> TrainingSet:
        """The pairs with at least one point; :class:`SettingsError` if fewer than ``min_points`` remain.

        Args:
            min_points: ground-truth points needed in total.
            what: "training" or "validation", for the message.
        """
        kept = tuple(pair for pair in self.pairs if pair.num_points > 0)
        points = sum(pair.num_points for pair in kept)
        if not kept or points < min_points:
            where = self.provenance.get("root", "the given pairs")
            raise SettingsError(
                f"the {what} data ({where}) has {points} ground-truth point(s) in {len(kept)} pair(s); at least "
                f"{max(min_points, 1)} point(s) are needed. Annotate (accept or correct) more points first."
            )
        if len(kept) == len(self.pairs):
            return self
        return TrainingSet(kept, {**self.provenance, "pairs_without_points": len(self.pairs) - len(kept)})


def prompt_key(variant: str, pair: PairSample) -> str:
    """Which learned tokens condition a pair: ``"dataset"`` (single) or its cleaned category (class).

    CPM computes its prompt from the pair itself and returns ``""`` here.
    """
    if variant == "single":
        return SINGLE_KEY
    if variant == "cpm":
        return ""
    category = canonical_category(pair.category)
    if not category:
        raise SettingsError(f"pair '{pair.pair_id}' has no category; class prompts need one per pair")
    return category


def check_categories(variant: str, train: TrainingSet, validation: TrainingSet | None) -> tuple[str, ...]:
    """The prompt keys to learn; for class prompts every validation category must be among them."""
    keys = tuple(sorted({prompt_key(variant, pair) for pair in train.pairs}))
    if variant != "class" or validation is None:
        return keys
    unknown = sorted({prompt_key(variant, pair) for pair in validation.pairs} - set(keys))
    if unknown:
        raise SettingsError(
            f"the validation pairs include categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} "
            f"that no training pair has, so no class prompt would be learned for them "
            f"(training categories: {', '.join(keys)})"
        )
    return keys
