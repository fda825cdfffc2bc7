"""The session: image pairs, their points, the selection, run records and settings (Qt-free).

The session is plain data with small, explicit mutators; controllers call them and then redraw.
Point coordinates are original-image pixels ((0, 0) = centre of the top-left pixel).
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from pathlib import Path

from engine.export.document import ImageRef, Keypoint, Point

from .collection import Collection
from .datasets import DatasetRef
from .history import History, PointEdit, PointsEdit, Step
from .pairs import PairEntry
from .runs import RunRegistry
from .settings import SessionSettings


class Session:
    """Everything a session file holds.

    Attributes:
        pairs: the pair list (two images, a folder, a pair list or a dataset split).
        current_index: index of the open pair in ``pairs`` (-1 when there is none).
        selected: id of the selected point of the open pair, or None.
        runs: run records of every prediction stored in the points.
        settings: engine, comparison and display settings.
        history: undo/redo of point edits (of any pair).
        path: the session file, once saved or opened.
        images: what is known about each opened image (size, digest), for exports.
        dataset: the benchmark split the pair list came from, if any (saved instead of the pairs).
        collection: the collection the pairs annotate (template -> image each), or None.
    """

    def __init__(self, settings: SessionSettings | None = None) -> None:
        self.pairs: list[PairEntry] = []
        self.current_index = -1
        self.selected: int | None = None
        self.runs = RunRegistry()
        self.settings = settings or SessionSettings()
        self.history = History()
        self.path: Path | None = None
        self.images: dict[Path, ImageRef] = {}
        self.dataset: DatasetRef | None = None
        self.collection: Collection | None = None
        self._points: dict[str, dict[int, Keypoint]] = {}
        # Per pair: its points by id, kept in step with ``_points`` by the mutators (a click
        # among a thousand points must not sort them all again for each of its readers).
        self._sorted: dict[str, list[Keypoint]] = {}

    # ---- pairs ----

    @property
    def pair(self) -> PairEntry | None:
        return self.pairs[self.current_index] if 0 <= self.current_index < len(self.pairs) else None

    def set_pairs(self, pairs: list[PairEntry], current_index: int = 0, dataset: DatasetRef | None = None) -> None:
        """Replace the pair list; points of pairs that stay (same id) are kept."""
        self.pairs = list(pairs)
        self.dataset = dataset
        self.current_index = min(max(current_index, 0), len(self.pairs) - 1)
        self.selected = None

    def go_to(self, index: int) -> bool:
        """Open pair ``index``; False if it does not exist."""
        if not 0 <= index < len(self.pairs) or index == self.current_index:
            return False
        self.current_index = index
        self.selected = None
        return True

    # ---- points ----

    def points(self, pair_id: str | None = None) -> list[Keypoint]:
        """Points of a pair (default: the open one), by id (a new list: callers may keep or change it)."""
        pair_id = pair_id or self._current_id()
        ordered = self._sorted.get(pair_id)
        if ordered is None:
            ordered = self._sorted[pair_id] = sorted(self._points.get(pair_id, {}).values(), key=_point_id)
        return list(ordered)

    def point(self, point_id: int | None, pair_id: str | None = None) -> Keypoint | None:
        if point_id is None:
            return None
        return self._points.get(pair_id or self._current_id(), {}).get(point_id)

    @property
    def selected_point(self) -> Keypoint | None:
        return self.point(self.selected)

    def annotated_pair_ids(self) -> list[str]:
        return [pair.pair_id for pair in self.pairs if self._points.get(pair.pair_id)]

    def next_point_id(self) -> int:
        existing = self._points.get(self._current_id(), {})
        return max(existing, default=-1) + 1

    def replace_point(self, pair_id: str, point_id: int, point: Keypoint | None) -> None:
        """Low level: store ``point`` (or remove it when None). Undoable changes go through :meth:`edit`."""
        points = self._points.setdefault(pair_id, {})
        ordered = self._sorted.get(pair_id)
        if point is None:
            if points.pop(point_id, None) is not None and ordered is not None:
                del ordered[bisect.bisect_left(ordered, point_id, key=_point_id)]
            if self.selected == point_id and pair_id == self._current_id():
                self.selected = None
        else:
            if ordered is not None:
                index = bisect.bisect_left(ordered, point_id, key=_point_id)
                if point_id in points:
                    ordered[index] = point
                else:
                    ordered.insert(index, point)
            points[point_id] = point

    def set_points(self, pair_id: str, points: list[Keypoint]) -> None:
        self._points[pair_id] = {p.id: p for p in points}
        self._sorted.pop(pair_id, None)

    def edit(
        self, description: str, after: Keypoint | None, before_id: int | None = None, run: str | None = None
    ) -> PointEdit:
        """Make an undoable change to a point of the open pair and select what it touched; edits of
        one ``run`` kind (see :meth:`History.do`) in a row on one point are one undo step."""
        pair_id = self._current_id()
        point_id = after.id if after is not None else before_id
        edit = PointEdit(description, pair_id, self.point(point_id), after)
        self.history.do(self, edit, run)
        self.selected = after.id if after is not None else None
        return edit

    def edit_points(self, description: str, edits: Sequence[PointEdit]) -> PointsEdit | None:
        """Several point edits (of any pairs) as one undo step; None when there is none."""
        if not edits:
            return None
        step = PointsEdit(description, self._current_id() or edits[0].pair_id, tuple(edits))
        self.history.do(self, step)
        return step

    def undo(self) -> Step | None:
        return self._select_after(self.history.undo(self), undo=True)

    def redo(self) -> Step | None:
        return self._select_after(self.history.redo(self), undo=False)

    def move_point(self, point_id: int, src_xy: Point) -> PointEdit | None:
        point = self.point(point_id)
        return None if point is None else self.edit("move source point", point.moved_source(src_xy))

    def set_status(self, point_id: int, status: str) -> PointEdit | None:
        point = self.point(point_id)
        if point is None or point.status == status or point.trg_xy is None:
            return None
        return self.edit(f"mark point {status}", point.changed(status=status))

    # ---- internals ----

    def _current_id(self) -> str:
        return self.pair.pair_id if self.pair is not None else ""

    def _select_after(self, edit: Step | None, undo: bool) -> Step | None:
        """After undo/redo, open the edit's pair and select its point if it exists there."""
        if edit is None:
            return None
        index = next((i for i, p in enumerate(self.pairs) if p.pair_id == edit.pair_id), self.current_index)
        self.go_to(index)
        remaining = edit.before if undo else edit.after
        self.selected = remaining.id if remaining is not None else None
        return edit


_point_id = operator.attrgetter("id")  # a point's id, at C speed
