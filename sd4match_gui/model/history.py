"""Undo/redo of point actions: every add, move, correction, deletion or flag change is one step.

An edit stores the point before and after (None = absent), so undo and redo are symmetric and
need no per-action code. Predictions arriving from the engine are not edits: they are recomputed
from the points, so undoing past them simply asks for them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .correspondence import Correspondence

if TYPE_CHECKING:
    from .session import Session

DEFAULT_DEPTH = 500


@dataclass(frozen=True)
class PointEdit:
    """One point of one pair changed from ``before`` to ``after`` (None: the point does not exist)."""

    description: str
    pair_id: str
    before: Correspondence | None
    after: Correspondence | None

    @property
    def point_id(self) -> int:
        point = self.after or self.before
        assert point is not None, "an edit changes a point"
        return point.id

    def apply(self, session: Session) -> None:
        session.replace_point(self.pair_id, self.point_id, self.after)

    def revert(self, session: Session) -> None:
        session.replace_point(self.pair_id, self.point_id, self.before)


class History:
    """Linear undo stack; a new edit after some undos discards the redo branch."""

    def __init__(self, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self._done: list[PointEdit] = []
        self._undone: list[PointEdit] = []

    def do(self, session: Session, edit: PointEdit) -> None:
        edit.apply(session)
        self._done.append(edit)
        del self._done[: -self.depth]
        self._undone.clear()

    def undo(self, session: Session) -> PointEdit | None:
        if not self._done:
            return None
        edit = self._done.pop()
        edit.revert(session)
        self._undone.append(edit)
        return edit

    def redo(self, session: Session) -> PointEdit | None:
        if not self._undone:
            return None
        edit = self._undone.pop()
        edit.apply(session)
        self._done.append(edit)
        return edit

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()

    @property
    def undo_text(self) -> str | None:
        return self._done[-1].description if self._done else None

    @property
    def redo_text(self) -> str | None:
        return self._undone[-1].description if self._undone else None
