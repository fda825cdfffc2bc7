"""What tuning a prompt on this session would learn from, and the run's defaults for small data.

The points that count are those ``engine.datasets.exported`` takes as ground truth (accepted or
corrected, with a target, not marked "not labelled"), so the summary the dialog shows is what the
trainer will read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from engine.datasets.exported import is_ground_truth
from engine.export.document import CorrespondenceDocument

from .session import Session
from .session_file import to_document

DEFAULT_EPOCHS = 20  # few pairs: more passes than the paper's 5 over SPair-71k's 53k
DEFAULT_BATCH = 4  # pairs per step, fewer when the session has fewer pairs
DEFAULT_LEARNING_RATE = 1e-2  # the paper's


@dataclass(frozen=True)
class SessionPoints:
    """The session's training data.

    Attributes:
        document: the session's export (what the worker trains on).
        pairs: pairs with at least one point that counts.
        points: points that count.
        categories: number of such pairs per category ("" for pairs without one).
    """

    document: CorrespondenceDocument
    pairs: int
    points: int
    categories: dict[str, int]

    @property
    def single_category(self) -> str | None:
        """The category every training pair has, if they share one."""
        return next(iter(self.categories)) if len(self.categories) == 1 and "" not in self.categories else None

    @property
    def default_batch(self) -> int:
        return max(1, min(DEFAULT_BATCH, self.pairs))


def session_points(session: Session) -> SessionPoints:
    document = to_document(session)
    categories: Counter[str] = Counter()
    points = 0
    for record in document.pairs:
        counted = sum(is_ground_truth(keypoint) for keypoint in record.keypoints)
        if counted:
            points += counted
            categories[record.category or ""] += 1
    return SessionPoints(document, sum(categories.values()), points, dict(categories))


def default_set_name(session: Session) -> str:
    """A prompt set name from the session file's name (letters, digits and '-' only)."""
    stem = session.path.stem if session.path is not None else "my-prompt"
    return re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-") or "my-prompt"
