"""PCK per category and overall, as the mean over pairs and as the mean over points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .pck import ALPHAS, FRAMES
from .scores import PairScore

OVERALL = "all"


@dataclass(frozen=True)
class GroupPck:
    """PCK of a group of pairs (a category, or all of them) in one frame.

    Attributes:
        pairs, points: how many pairs and points the group has.
        per_pair: for each alpha, the mean over pairs of each pair's PCK (the paper's number;
            the official evaluator's "all" is this pair-weighted mean).
        per_point: for each alpha, the fraction of all the group's points that are correct.
    """

    pairs: int
    points: int
    per_pair: tuple[float, ...]
    per_point: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "points": self.points,
            "per_pair": list(self.per_pair),
            "per_point": list(self.per_point),
        }


def summarise(scores: Sequence[PairScore], alphas: tuple[float, ...] = ALPHAS) -> dict[str, dict[str, GroupPck]]:
    """frame -> group -> :class:`GroupPck`; groups are the sorted categories, then ``"all"``.

    Pairs without points have no PCK and are not counted.
    """
    scored = [score for score in scores if score.num_points]
    categories = sorted({score.category for score in scored})
    groups = {category: [s for s in scored if s.category == category] for category in categories}
    groups[OVERALL] = scored
    return {frame: {name: _group(members, frame, alphas) for name, members in groups.items()} for frame in FRAMES}


def summary_to_dict(summary: dict[str, dict[str, GroupPck]]) -> dict[str, Any]:
    return {frame: {group: pck.to_dict() for group, pck in groups.items()} for frame, groups in summary.items()}


def _group(scores: list[PairScore], frame: str, alphas: tuple[float, ...]) -> GroupPck:
    if not scores:
        nothing = tuple(float("nan") for _ in alphas)
        return GroupPck(0, 0, nothing, nothing)
    correct = [score.measurements[frame].correct(alphas) for score in scores]  # each A x N
    per_pair = np.mean([c.mean(axis=1) for c in correct], axis=0)
    per_point = np.concatenate(correct, axis=1).mean(axis=1)
    points = sum(score.num_points for score in scores)
    return GroupPck(len(scores), points, tuple(map(float, per_pair)), tuple(map(float, per_point)))
