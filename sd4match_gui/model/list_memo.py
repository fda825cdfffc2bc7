"""Values computed per point of a point list, kept between calls (Qt-free).

Points are immutable values: a point that is the same object as at the last call needs nothing
computed again. Comparing by identity at C speed, a thousand points cost microseconds, so a
redraw or a save after a click does the work of one point.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Hashable
from typing import TypeVar

from engine.export.document import Keypoint

R = TypeVar("R")


class ListMemo:
    """A value per point of a point list, kept between calls: while the inputs shared by every
    point (``shared``, never None) stay the same, a call maps only the points between the
    unchanged beginning and end of the list, so a click among a thousand points maps one."""

    def __init__(self) -> None:
        self._points: list[Keypoint] = []
        self._values: list = []
        self._shared: object = None

    def map(self, points: list[Keypoint], shared: Hashable, make: Callable[[Keypoint], R]) -> list[R]:
        """``[make(p) for p in points]``, with the values of the last call for unchanged points."""
        old, values = self._points, self._values
        if self._shared is None or shared != self._shared:
            values = [make(p) for p in points]
        else:
            common = min(len(old), len(points))
            start = _first_difference(old, points, common)
            end = min(_first_difference(old[::-1], points[::-1], common), common - start)
            changed = [make(p) for p in points[start : len(points) - end]]
            values = values[:start] + changed + values[len(old) - end :]
        self._points, self._values, self._shared = points, values, shared
        return list(values)


def _first_difference(old: list[Keypoint], new: list[Keypoint], common: int) -> int:
    """The first index where ``old`` and ``new`` hold different objects (``common`` when none does)."""
    return next(itertools.compress(itertools.count(), map(operator.is_not, old, new)), common)
