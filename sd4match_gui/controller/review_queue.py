"""A collection's review queue: the Review dock's rows, jumps to what needs a look, bulk actions.

Rows are the collection's images in file order or least confident first (see
:meth:`sd4match_gui.model.collection.Collection.review_order`), each with its state and counts.
Shift+D opens the next image that needs review in the order the dock shows: the first row that
needs review and has not been opened in this pass (a pass starts again when the order is changed
or every such image was opened; rows move as points are reviewed, so "the row after the open
one" would skip the image that just rose above it). Shift+N selects the next flagged prediction
(saying why it is flagged); "accept passing" (this image or all) and "clear image" are one undo
step each (:meth:`AppModel.edit_points`). The dock's rows follow the model's
``collection_changed`` and ``results.answered`` events, coalesced into one refresh per event-loop
turn (a template edit changes every image at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel

from engine.collections.review import ReviewThresholds

from ..model.app_model import AppModel
from ..model.collection import (
    NEEDS_REVIEW,
    PREDICTING,
    REVIEWED,
    STOPPED,
    Collection,
    ImageSummary,
    accept_passing,
    clear_points,
)
from ..model.history import PointEdit
from ..views.review_dock import ReviewDock, ReviewRow
from .next_frame import NextFrame
from .notices import Notices

NOTHING_TO_ACCEPT = "No unflagged prediction left to accept{where} (Shift+N selects the flagged ones)."
FLAG_NOTE = "Flagged: a prediction whose confidence or cycle error crosses the Review dock's thresholds."


class ReviewQueue:
    """The review side of collection mode.

    Args:
        dock: the Review dock.
        status: the status bar's collection text (image k of n, reviewed and flagged counts).
        actions: the window's actions (the jumps and bulk actions are connected here).
        model: the app model (the collection, the points; bulk actions are its edits).
        notices: the status bar and message banner.
        propagating: whether propagation is going on (the dock shows its progress).
        propagate_again: called after an image was cleared (it is predicted again).

    Attributes:
        least_confident_first: the queue's order.
    """

    def __init__(
        self,
        dock: ReviewDock,
        status: QLabel,
        actions: Mapping[str, QAction],
        model: AppModel,
        notices: Notices,
        propagating: Callable[[], bool],
        propagate_again: Callable[[], None],
    ) -> None:
        self._dock = dock
        self._status = status
        self._model = model
        self._notices = notices
        self._propagating = propagating
        self._propagate_again = propagate_again
        self.least_confident_first = False
        self._refresh = NextFrame(self._refresh_after_frame)  # coalesced, after the window's pending frame
        # Whether an edit waits for the engine's answer to be drawn (set by the app controller):
        # the queue is then refreshed after that frame, not in the gap before the answer.
        self.waits_for_answer: Callable[[], bool] = lambda: False
        self._opened: set[str] = set()  # images opened in this pass of Shift+D
        self._pass_of: Collection | None = None  # the collection the pass walks
        dock = self._dock
        dock.image_chosen.connect(self.go_to_image)
        dock.order_changed.connect(self._set_order)
        dock.thresholds_changed.connect(self._set_thresholds)
        dock.accept_image.connect(self.accept_passing_here)
        dock.accept_all.connect(self.accept_passing_everywhere)
        dock.clear_image.connect(self.clear_here)
        for name, slot in {
            "next_to_review": self.next_to_review,
            "next_flagged": self.next_flagged,
            "accept_passing": self.accept_passing_here,
            "accept_passing_all": self.accept_passing_everywhere,
            "clear_image": self.clear_here,
        }.items():
            actions[name].triggered.connect(slot)
        model.collection_changed.connect(self.refresh_soon)
        model.results.answered.connect(self.refresh_soon)

    @property
    def collection(self) -> Collection | None:
        return self._model.collection

    def summaries(self) -> dict[str, ImageSummary]:
        session, collection = self._model.session, self.collection
        assert collection is not None
        return {image.pair_id: collection.summary(image, session.points(image.pair_id)) for image in collection.images}

    def review_order(self) -> list[str]:
        assert self.collection is not None
        return self.collection.review_order(self.summaries(), self.least_confident_first)

    def go_to_image(self, pair_id: str) -> None:
        session = self._model.session
        index = next((i for i, pair in enumerate(session.pairs) if pair.pair_id == pair_id), None)
        if index is not None:
            self._model.go_to(index)

    def next_to_review(self) -> None:
        """Open the first image in queue order that needs review and was not opened in this pass."""
        if self.collection is None:
            return
        summaries, order = self.summaries(), self.review_order()
        current = self._model.session.pair.pair_id if self._model.session.pair is not None else None
        waiting = [pair_id for pair_id in order if summaries[pair_id].state == NEEDS_REVIEW and pair_id != current]
        if not waiting:
            self._notices.notify("No other image needs review.")
            return
        unopened = [pair_id for pair_id in waiting if pair_id not in self._opened]
        if not unopened:  # every one was opened in this pass: a new pass, from the top
            self._new_pass()
            unopened = waiting
        self.go_to_image(unopened[0])

    def next_flagged(self) -> None:
        """Select the next flagged point of the open image, else of the next image (queue order) with one."""
        collection, session = self.collection, self._model.session
        if collection is None or session.pair is None:
            return
        here = session.pair.pair_id
        flagged = [p.id for p in session.points() if collection.flagged(here, p)]
        after = [i for i in flagged if session.selected is None or i > session.selected]
        if after:
            self._select_flagged(here, after[0])
            return
        order = self.review_order()
        start = order.index(here) + 1 if here in order else 0
        for pair_id in order[start:] + order[:start]:
            points = [p.id for p in session.points(pair_id) if collection.flagged(pair_id, p)]
            if points and (pair_id != here or session.selected not in points[:1]):
                self.go_to_image(pair_id)
                self._select_flagged(pair_id, points[0])
                return
        self._notices.notify("No flagged point left.")

    def _select_flagged(self, pair_id: str, point_id: int) -> None:
        """Select a flagged point and say why it is flagged."""
        self._model.select(point_id)
        collection, point = self.collection, self._model.session.point(point_id, pair_id)
        image = collection.image(pair_id) if collection is not None else None
        facts = image.facts.get(point_id) if image is not None else None
        if point is None or facts is None:
            return
        name = f"{point.number} ({point.label})" if point.label else str(point.number)
        self._notices.notify(
            f"Point {name}: confidence {facts.confidence:.3f}, cycle error {facts.cycle_error:.1f} px "
            f"({facts.cycle_error / facts.template_side:.3f} of the template's side), from {facts.template}."
        )

    def accept_passing_here(self) -> None:
        session = self._model.session
        if self.collection is None or session.pair is None:
            return
        edits = accept_passing(self.collection, session.pair.pair_id, session.points())
        self._do(f"accept {len(edits)} passing point(s)", edits, NOTHING_TO_ACCEPT.format(where=" on this image"))

    def accept_passing_everywhere(self) -> None:
        collection, session = self.collection, self._model.session
        if collection is None:
            return
        edits = [
            e
            for image in collection.images
            for e in accept_passing(collection, image.pair_id, session.points(image.pair_id))
        ]
        self._do(f"accept {len(edits)} passing point(s) on every image", edits, NOTHING_TO_ACCEPT.format(where=""))

    def clear_here(self) -> None:
        collection, session = self.collection, self._model.session
        if collection is None or session.pair is None:
            return
        pair_id = session.pair.pair_id
        self._do("clear image", clear_points(collection, pair_id, session.points()))
        collection.forget(pair_id)
        self._propagate_again()

    def _do(self, description: str, edits: list[PointEdit], nothing: str = "Nothing to change.") -> None:
        if self._model.edit_points(description, edits) is None:
            self._notices.notify(nothing)
        else:
            self._notices.notify(description.capitalize() + ".")

    # ---- display ----

    def refresh_queue(self) -> None:
        collection = self.collection
        if collection is None:
            return
        summaries = self.summaries()
        current = self._model.session.pair
        if collection is not self._pass_of:  # another collection: a new pass
            self._pass_of = collection
            self._new_pass()
        if current is not None:
            self._opened.add(current.pair_id)
        rows = []
        for pair_id in collection.review_order(summaries, self.least_confident_first):
            image, summary = collection.image(pair_id), summaries[pair_id]
            assert image is not None
            counts = f"{summary.approved}/{summary.points} done · {summary.flagged} flagged"
            if image.error:
                counts = image.error
            state = summary.state
            if state == PREDICTING and not self._propagating():  # after Cancel nothing predicts it
                state = STOPPED
            rows.append(
                ReviewRow(
                    pair_id,
                    image.path,
                    image.path.name,
                    state,
                    counts,
                    current is not None and current.pair_id == pair_id,
                )
            )
        self._dock.show_rows(rows)
        self._show_status(summaries)
        self._dock.show_thresholds(collection.thresholds.max_cycle_error, collection.thresholds.min_confidence)
        left = sum(1 for image in collection.images if collection.missing(image))
        done = len(collection.images) - left
        if self._propagating() and left:
            self._dock.progress.show_stage(f"Predicting {done}/{len(collection.images)}", done / len(collection.images))
        else:
            self._dock.progress.hide()

    def _show_status(self, summaries: dict[str, ImageSummary]) -> None:
        """The status bar's collection text: which image is open, how far the review has come."""
        session = self._model.session
        current = session.pair.pair_id if session.pair is not None else None
        ids = list(summaries)
        where = f"image {ids.index(current) + 1} of {len(ids)}" if current in summaries else f"{len(ids)} images"
        here = f" · {summaries[current].flagged} flagged here" if current in summaries else ""
        reviewed = sum(s.state == REVIEWED for s in summaries.values())
        flagged = sum(s.flagged for s in summaries.values())
        self._status.setText(f"{where}{here} · {reviewed}/{len(ids)} reviewed · {flagged} flagged in all")
        self._status.setToolTip(FLAG_NOTE)

    @property
    def refresh_pending(self) -> bool:
        return self._refresh.pending

    def _refresh_after_frame(self) -> None:
        if not self.waits_for_answer():  # else the frame with the answer comes first, then a refresh
            self.refresh_queue()

    def refresh_soon(self, *_changed: object) -> None:
        """Refresh once the window has painted its pending frame (the image a click changed comes
        first), and once for any number of changes until then (a template edit changes every
        image at once, and each row needs its summary)."""
        self._refresh.request()

    def _set_order(self, least_confident_first: bool) -> None:
        self.least_confident_first = least_confident_first
        self._new_pass()  # Shift+D starts at the top of the order now shown
        self.refresh_queue()

    def _new_pass(self) -> None:
        """Shift+D walks the queue again from its top (the open image counts as opened)."""
        pair = self._model.session.pair
        self._opened = {pair.pair_id} if pair is not None else set()

    def _set_thresholds(self, max_cycle_error: float, min_confidence: float) -> None:
        if self.collection is not None:
            self.collection.set_thresholds(ReviewThresholds(max_cycle_error, min_confidence))  # redrawn, saved
