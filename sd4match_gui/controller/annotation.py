"""Gestures and keys -> undoable point edits on the open pair.

Click on the source: a new point (selected). Click on a target: correct the selected point there.
Click on a marker: select. Drag a source marker: move the point (it is predicted again); drag a
target marker: correct. Every change is one undo step, and so is a run of arrow-key nudges of one
point. Every change goes through the model, whose ``edited`` event makes the app redraw, ask the
engine and autosave.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.export.document import Keypoint

from ..model.app_model import AppModel
from ..views.coords import clamp_to_image
from ..views.pair_canvas import SOURCE
from .notices import Notices


class AnnotationController:
    """Point actions; all coordinates are engine pixels."""

    def __init__(self, model: AppModel, notices: Notices) -> None:
        self._model = model
        self._notices = notices
        # Set by the labels controller: places the active keypoint name on the source and returns
        # True, or returns False (no names in use) for a plain numbered point.
        self.source_click: Callable[[float, float], bool] | None = None

    # ---- mouse ----

    def click(self, panel: int, x: float, y: float) -> None:
        model, session = self._model, self._model.session
        if session.pair is None:
            return
        if panel == SOURCE:
            if self.source_click is None or not self.source_click(x, y):
                point = Keypoint(id=session.next_point_id(), src_xy=(x, y))
                model.edit(f"add point {point.number}", point)
        elif session.selected_point is not None:
            point = session.selected_point
            model.edit(f"correct point {point.number}", point.corrected((x, y)))
        else:
            self._notices.notify("Select a point first (click a marker, or click the source to add one).")

    def select(self, point_id: int | None) -> None:
        if point_id is not None:
            self._model.select(point_id)

    def drop(self, panel: int, point_id: int, x: float, y: float) -> None:
        point = self._model.session.point(point_id)
        if point is None:
            return
        if panel == SOURCE:
            self._model.move_point(point_id, (x, y))
        else:
            self._model.edit(f"correct point {point.number}", point.corrected((x, y)))

    # ---- keys ----

    def delete_selected(self) -> None:
        point = self._model.session.selected_point
        if point is not None:
            self._model.edit(f"delete point {point.number}", None, before_id=point.id)

    def nudge(self, dx: float, dy: float) -> None:
        """Move the selected target by (dx, dy) pixels (it becomes a correction), inside the target image."""
        point, images = self._model.session.selected_point, self._model.images
        if point is None or point.trg_xy is None or images is None:
            return
        xy = clamp_to_image((point.trg_xy[0] + dx, point.trg_xy[1] + dy), images[1].width, images[1].height)
        self._model.edit(f"nudge point {point.number}", point.corrected(xy), run="nudge")  # a run of nudges: one step

    def set_visibility(self, visibility: int) -> None:
        point = self._model.session.selected_point
        if point is not None and point.visibility != visibility:
            self._model.edit(f"visibility {visibility}", point.changed(visibility=visibility))

    def set_status(self, status: str) -> None:
        selected = self._model.session.selected
        if selected is not None:
            self._model.set_status(selected, status)

    def set_label(self, point_id: int, label: str) -> None:
        point = self._model.session.point(point_id)
        if point is not None and point.label != label:
            self._model.edit(f"rename point {point.number}", point.changed(label=label))

    def step_selection(self, step: int) -> None:
        session = self._model.session
        ids = [p.id for p in session.points()]
        if not ids:
            return
        index = ids.index(session.selected) + step if session.selected in ids else (0 if step > 0 else -1)
        self.select(ids[index % len(ids)])

    def undo(self) -> None:
        if self._model.undo() is None:
            self._notices.notify("Nothing to undo.")

    def redo(self) -> None:
        if self._model.redo() is None:
            self._notices.notify("Nothing to redo.")
