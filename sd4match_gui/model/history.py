"""Undo/redo of point actions: every add, move, correction, deletion or flag change is one step.

A run of arrow-key nudges of one point is one step, as in image editors: a nudge merges into the
previous step when that step was a nudge of the same point, nothing was done, undone or redone
since, and less than :data:`MERGE_PAUSE_S` passed.

An edit stores the point before and after (None = absent), so undo and redo are symmetric and
need no per-action code. Predictions arriving from the engine are not edits: they are recomputed
from the points, so undoing past them simply asks for them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.export.document import Keypoint

if TYPE_CHECKING:
    from .session import Session

DEFAULT_DEPTH = 500
MERGE_PAUSE_S = 1.0  # a pause this long between two nudges starts a new undo step


@dataclass(frozen=True)
class PointEdit:
    """One point of one pair changed from ``before`` to ``after`` (None: the point does not exist)."""

    description: str
    pair_id: str
    before: Keypoint | None
    after: Keypoint | None

    @property
    def point_id(self) -> int:
        point = self.after or self.before
        assert point is not None, "an edit changes a point"
        return point.id

    def apply(self, session: Session) -> None:
        session.replace_point(self.pair_id, self.point_id, self.after)

    def revert(self, session: Session) -> None:
        session.replace_point(self.pair_id, self.point_id, self.before)


@dataclass(frozen=True)
class PointsEdit:
    """Several point edits as one undo step (bulk accept, clear an image); duck-types :class:`PointEdit`
    (no ``before``/``after``: nothing is selected after its undo or redo)."""

    description: str
    pair_id: str
    edits: tuple[PointEdit, ...]
    before: Keypoint | None = None
    after: Keypoint | None = None

    @property
    def point_id(self) -> int:
        return -1

    def apply(self, session: Session) -> None:
        for edit in self.edits:
            edit.apply(session)

    def revert(self, session: Session) -> None:
        for edit in reversed(self.edits):
            edit.revert(session)


Step = PointEdit | PointsEdit  # one entry of the undo stack


class History:
    """Linear undo stack; a new edit after some undos discards the redo branch."""

    def __init__(self, depth: int = DEFAULT_DEPTH, clock: Callable[[], float] = time.monotonic) -> None:
        self.depth = depth
        self.clock = clock  # seconds, for the pause that ends a run
        self._done: list[Step] = []
        self._undone: list[Step] = []
        self._open_run: tuple[str, str, int, float] | None = None  # (kind, pair, point, when) of the last step

    def do(self, session: Session, edit: Step, run: str | None = None) -> None:
        """Apply ``edit`` as a new step, or, for an edit of kind ``run`` (e.g. "nudge") that continues
        the last step's run, fold it into that step (its ``before`` stays, its ``after`` is the new one)."""
        edit.apply(session)
        now = self.clock()
        key = None if run is None else (run, edit.pair_id, edit.point_id)
        last = self._open_run
        if key is not None and last is not None and last[:3] == key and now - last[3] < MERGE_PAUSE_S:
            self._done[-1] = replace(self._done[-1], after=edit.after, description=edit.description)
        else:
            self._done.append(edit)
            del self._done[: -self.depth]
        self._undone.clear()
        self._open_run = None if key is None else (*key, now)

    def undo(self, session: Session) -> Step | None:
        if not self._done:
            return None
        edit = self._done.pop()
        edit.revert(session)
        self._undone.append(edit)
        self._open_run = None
        return edit

    def redo(self, session: Session) -> Step | None:
        if not self._undone:
            return None
        edit = self._undone.pop()
        edit.apply(session)
        self._done.append(edit)
        self._open_run = None
        return edit

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._open_run = None

    @property
    def undo_text(self) -> str | None:
        return self._done[-1].description if self._done else None

    @property
    def redo_text(self) -> str | None:
        return self._undone[-1].description if self._undone else None
