"""Gestures and keys -> undoable point edits on the open pair.

Click on the source: a new point (selected). Click on a target: correct the selected point there.
Click on a marker: select. Drag a source marker: move the point (it is predicted again); drag a
target marker: correct. Every change is one undo step, and so is a run of arrow-key nudges of one
point. After each change ``on_change`` runs (the app redraws, asks the engine and autosaves).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..model.correspondence import Correspondence
from ..model.session import Session
from ..views.coords import clamp_to_image
from ..views.pair_canvas import SOURCE


class AnnotationController:
    """Point actions; all coordinates are engine pixels."""

    def __init__(self, session: Callable[[], Session], on_change: Callable[[], None], notify: Callable[[str], None]):
        self._session = session
        self._on_change = on_change
        self._notify = notify
        # Set by the labels controller: places the active keypoint name on the source and returns
        # True, or returns False (no names in use) for a plain numbered point.
        self.source_click: Callable[[float, float], bool] | None = None

    # ---- mouse ----

    def click(self, panel: int, x: float, y: float) -> None:
        session = self._session()
        if session.pair is None:
            return
        if panel == SOURCE:
            if self.source_click is None or not self.source_click(x, y):
                point = Correspondence(id=session.next_point_id(), src_xy=(x, y))
                session.edit(f"add point {point.number}", point)
        elif session.selected_point is not None:
            point = session.selected_point
            session.edit(f"correct point {point.number}", point.corrected((x, y)))
        else:
            self._notify("Select a point first (click a marker, or click the source to add one).")
            return
        self._on_change()

    def select(self, point_id: int | None) -> None:
        session = self._session()
        if session.point(point_id) is None or session.selected == point_id:
            return
        session.selected = point_id
        self._on_change()

    def drop(self, panel: int, point_id: int, x: float, y: float) -> None:
        session = self._session()
        point = session.point(point_id)
        if point is None:
            return
        if panel == SOURCE:
            session.move_point(point_id, (x, y))
        else:
            session.edit(f"correct point {point.number}", point.corrected((x, y)))
        self._on_change()

    # ---- keys ----

    def delete_selected(self) -> None:
        session = self._session()
        point = session.selected_point
        if point is not None:
            session.edit(f"delete point {point.number}", None, before_id=point.id)
            self._on_change()

    def nudge(self, dx: float, dy: float, image_size: tuple[int, int]) -> None:
        """Move the selected target by (dx, dy) pixels (it becomes a correction)."""
        session = self._session()
        point = session.selected_point
        if point is None or point.trg_xy is None:
            return
        xy = clamp_to_image((point.trg_xy[0] + dx, point.trg_xy[1] + dy), *image_size)
        session.edit(f"nudge point {point.number}", point.corrected(xy), run="nudge")  # a run of nudges: one step
        self._on_change()

    def set_visibility(self, visibility: int) -> None:
        session = self._session()
        point = session.selected_point
        if point is not None and point.visibility != visibility:
            session.edit(f"visibility {visibility}", dataclasses.replace(point, visibility=visibility))
            self._on_change()

    def set_status(self, status: str) -> None:
        session = self._session()
        if session.selected is not None and session.set_status(session.selected, status) is not None:
            self._on_change()

    def set_label(self, point_id: int, label: str) -> None:
        session = self._session()
        point = session.point(point_id)
        if point is not None and point.label != label:
            session.edit(f"rename point {point.number}", dataclasses.replace(point, label=label))
            self._on_change()

    def step_selection(self, step: int) -> None:
        session = self._session()
        ids = [p.id for p in session.points()]
        if not ids:
            return
        index = ids.index(session.selected) + step if session.selected in ids else (0 if step > 0 else -1)
        self.select(ids[index % len(ids)])

    def undo(self) -> None:
        if self._session().undo() is not None:
            self._on_change()
        else:
            self._notify("Nothing to undo.")

    def redo(self) -> None:
        if self._session().redo() is not None:
            self._on_change()
        else:
            self._notify("Nothing to redo.")
