"""A collection: one template image whose named keypoints are propagated onto many images (Qt-free).

In the session a collection is a pair list: one pair *template -> image* per image to annotate,
every pair holding the template's keypoints (same ``id`` and ``label`` everywhere, source = the
template's pixels, target = the prediction or the user's point). So the canvas, the points table,
corrections, undo, the sd-correspondence export ("one pair per template -> image") and session
files work as for any pair list. This module adds what only a collection has:

* the keypoint schema, and which of its names are "not visible" on the template;
* per image, which template points were propagated onto it and what propagation found for each
  (:class:`PointFacts`: confidence, cycle error, the template that won), or why it failed;
* the review thresholds, and from them each point's flag, each image's state and the review order.

Coordinates are original-image pixels ((0, 0) = centre of the top-left pixel). Changes are
announced with :class:`~sd4match_gui.model.events.Event` ``changed(pair_id | None)``, which the app
model forwards as ``AppModel.collection_changed``; the images' points are the session's and change
through :class:`~sd4match_gui.model.app_model.AppModel`'s methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.collections.review import ReviewThresholds
from engine.collections.schema import KeypointSchema
from engine.collections.template import Template, TemplatePoint
from engine.export.document import Keypoint

from .events import Event
from .history import PointEdit

PREDICTING = "predicting"
NEEDS_REVIEW = "needs review"
REVIEWED = "reviewed"
FAILED = "failed"
STOPPED = "stopped"  # shown for an image still to predict while propagation is stopped (after Cancel)
MAX_TEMPLATES = 5  # the template and up to four reviewed images predict each keypoint (cost grows with each)


@dataclass(frozen=True)
class PointFacts:
    """What propagation found for one keypoint on one image.

    Attributes:
        confidence: in [0, 1] of the winning prediction.
        cycle_error: template pixels (the prediction matched back to its template).
        template_side: max(W, H) of the template that won (the cycle threshold is a share of it).
        template: file name of the template that won.
    """

    confidence: float
    cycle_error: float
    template_side: int
    template: str

    def flagged(self, thresholds: ReviewThresholds) -> bool:
        too_far = self.cycle_error > thresholds.max_cycle_error * self.template_side
        return too_far or self.confidence < thresholds.min_confidence


@dataclass
class CollectionImage:
    """One image to annotate.

    Attributes:
        pair_id: its pair (template -> image) in the session.
        path: the image file.
        facts: point id -> what propagation found.
        propagated: point id -> the template position it was propagated from (a moved template
            point is propagated again).
        error: why the image could not be propagated ("" when it could).
    """

    pair_id: str
    path: Path
    facts: dict[int, PointFacts] = field(default_factory=dict)
    propagated: dict[int, tuple[float, float]] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class ImageSummary:
    """An image's row in the review queue."""

    state: str
    points: int
    approved: int
    flagged: int
    least_confidence: float  # of its unapproved predictions; 1.0 when none is left


class Collection:
    """The collection part of a session (see module doc).

    Attributes:
        schema: keypoint names (COCO export order).
        template_path: the template image.
        template: point id -> the template's point (label, pixels); every pair holds these ids.
        not_visible: schema names marked "not visible" on the template (nothing to propagate).
        images: in the order they were added.
        thresholds: when a prediction is flagged for review.
        changed: ``changed(pair_id)`` after an image's facts changed, ``changed(None)`` after a
            change of the whole collection (template, thresholds).
    """

    def __init__(self, schema: KeypointSchema, template_path: Path, images: Sequence[CollectionImage]) -> None:
        self.schema = schema
        self.template_path = template_path
        self.template: dict[int, TemplatePoint] = {}
        self.not_visible: set[str] = set()
        self.images = list(images)
        self._by_pair = {image.pair_id: image for image in self.images}  # every row's summary looks images up
        self.thresholds = ReviewThresholds()
        self.changed = Event()

    # ---- lookup ----

    def image(self, pair_id: str) -> CollectionImage | None:
        return self._by_pair.get(pair_id)

    def slot(self, label: str) -> int | None:
        return self.schema.keypoints.index(label) if label in self.schema.keypoints else None

    def engine_template(self) -> Template:
        """The template as :mod:`engine.collections` exports it (points in id order, schema slots)."""
        points = tuple(
            self.template[i] for i in sorted(self.template) if self.template[i].label in self.schema.keypoints
        )
        slots = tuple(self.schema.index(p.label) for p in points)
        return Template(self.template_path, points, self.schema, slots, self.schema.name)

    # ---- template ----

    def set_template(self, points: dict[int, TemplatePoint]) -> None:
        if points != self.template:
            self.template = dict(points)
            self.changed.emit(None)

    def set_not_visible(self, name: str, hidden: bool) -> None:
        if name not in self.schema.keypoints:
            raise ValueError(f"'{name}' is not a keypoint of the schema")
        if hidden != (name in self.not_visible):
            (self.not_visible.add if hidden else self.not_visible.discard)(name)
            self.changed.emit(None)

    def template_copies(self) -> list[Keypoint]:
        """Fresh points for a new image: the template's, nothing predicted yet."""
        return [Keypoint(id=i, src_xy=p.xy, label=p.label) for i, p in sorted(self.template.items())]

    # ---- propagation ----

    def missing(self, image: CollectionImage) -> list[int]:
        """Template point ids not yet propagated onto ``image`` from their current position."""
        if image.error:
            return []
        return [i for i, p in sorted(self.template.items()) if image.propagated.get(i) != p.xy]

    def record(self, pair_id: str, facts: dict[int, PointFacts], sources: dict[int, tuple[float, float]]) -> None:
        """Propagation answered for ``pair_id``: ``facts`` per point id, ``sources`` the template positions used."""
        image = self.image(pair_id)
        if image is None:
            return
        image.facts.update(facts)
        image.propagated.update(sources)
        image.error = ""
        self.changed.emit(pair_id)

    def fail(self, pair_id: str, error: str) -> None:
        image = self.image(pair_id)
        if image is not None:
            image.error = error
            self.changed.emit(pair_id)

    def forget(self, pair_id: str, point_ids: Sequence[int] | None = None) -> None:
        """Drop what propagation found (all points when None): they are propagated again."""
        image = self.image(pair_id)
        if image is None:
            return
        ids = set(image.facts) | set(image.propagated) if point_ids is None else set(point_ids)
        if not (ids & (set(image.facts) | set(image.propagated)) or image.error):
            return
        for point_id in ids:
            image.facts.pop(point_id, None)
            image.propagated.pop(point_id, None)
        image.error = ""
        self.changed.emit(pair_id)

    def retry_failed(self) -> list[str]:
        """Forget why images failed: they are propagated again. Returns their pair ids."""
        failed = [image.pair_id for image in self.images if image.error]
        for pair_id in failed:
            self.forget(pair_id)
        return failed

    def forget_unreviewed(self, points_of: dict[str, Sequence[Keypoint]]) -> int:
        """Drop what propagation found for every unreviewed (still "predicted") point, e.g. after the
        engine settings changed: those points are propagated again, reviewed ones are kept. Returns
        how many points that is."""
        count = 0
        for image in self.images:
            points = points_of.get(image.pair_id, ())
            ids = [p.id for p in points if p.status == "predicted" and p.id in image.propagated]
            count += len(ids)
            if ids:
                self.forget(image.pair_id, ids)
        return count

    # ---- review ----

    def set_thresholds(self, thresholds: ReviewThresholds) -> None:
        if thresholds != self.thresholds:
            self.thresholds = thresholds
            self.changed.emit(None)

    def flagged(self, pair_id: str, point: Keypoint) -> bool:
        """Whether an unapproved prediction needs a look: its cycle error or confidence crosses a threshold."""
        if point.status != "predicted" or point.trg_xy is None:
            return False
        image = self.image(pair_id)
        facts = image.facts.get(point.id) if image is not None else None
        if facts is not None:
            return facts.flagged(self.thresholds)
        confidence = point.predictions[0].confidence if point.predictions else 0.0
        return confidence < self.thresholds.min_confidence

    def confidence(self, pair_id: str, point: Keypoint) -> float:
        image = self.image(pair_id)
        facts = image.facts.get(point.id) if image is not None else None
        if facts is not None:
            return facts.confidence
        return point.predictions[0].confidence if point.predictions else 0.0

    def summary(self, image: CollectionImage, points: Sequence[Keypoint]) -> ImageSummary:
        """State and counts of ``image`` given its session points."""
        open_points = [p for p in points if p.status == "predicted"]
        flagged = sum(self.flagged(image.pair_id, p) for p in points)
        least = min((self.confidence(image.pair_id, p) for p in open_points if p.trg_xy is not None), default=1.0)
        if image.error:
            state = FAILED
        elif self.missing(image) or any(p.trg_xy is None for p in open_points):
            state = PREDICTING
        elif open_points:
            state = NEEDS_REVIEW
        else:
            state = REVIEWED
        return ImageSummary(state, len(points), len(points) - len(open_points), flagged, least)

    def review_order(self, summaries: dict[str, ImageSummary], least_confident_first: bool) -> list[str]:
        """Pair ids in queue order: file order, or least confident first (reviewed and failed last)."""
        ids = [image.pair_id for image in self.images]
        if not least_confident_first:
            return ids

        def key(pair_id: str) -> tuple[int, float, int]:
            summary = summaries[pair_id]
            done = summary.state in (REVIEWED, FAILED)
            return (int(done), summary.least_confidence, ids.index(pair_id))

        return sorted(ids, key=key)

    def templates_for(
        self, points_of: dict[str, Sequence[Keypoint]]
    ) -> list[tuple[str, Path, dict[int, tuple[float, float]]]]:
        """The templates a prediction is made from: the template, then reviewed images (most recent
        last in file order), up to :data:`MAX_TEMPLATES`; each as (name, image, point id -> pixels)."""
        shown = {i: p.xy for i, p in self.template.items()}
        found = [(self.template_path.name, self.template_path, shown)]
        for image in self.images:
            points = points_of.get(image.pair_id, ())
            if not points or any(p.status == "predicted" for p in points):
                continue
            approved = {p.id: p.trg_xy for p in points if p.approved and p.trg_xy is not None}
            if approved and len(found) < MAX_TEMPLATES:
                found.append((image.path.name, image.path, approved))
        return found


def accept_passing(collection: Collection, pair_id: str, points: Sequence[Keypoint]) -> list[PointEdit]:
    """Edits accepting every unflagged prediction of one image."""
    return [
        PointEdit("accept", pair_id, p, dataclasses.replace(p, status="accepted"))
        for p in points
        if p.status == "predicted" and p.trg_xy is not None and not collection.flagged(pair_id, p)
    ]


def clear_points(collection: Collection, pair_id: str, points: Sequence[Keypoint]) -> list[PointEdit]:
    """Edits putting every point of one image back to the template's (no prediction, nothing approved)."""
    fresh = {p.id: p for p in collection.template_copies()}
    edits = []
    for point in points:
        after = fresh.get(point.id)
        if after != point:
            edits.append(PointEdit("clear", pair_id, point, after))
    return edits


def mirrored(points: Sequence[Keypoint], shown: dict[int, TemplatePoint]) -> list[Keypoint]:
    """One image's points after a template edit (``shown``: the template's points now): new template
    points are added unpredicted, deleted ones go, renamed ones take the name; a moved one keeps a
    target a person approved, else it is predicted again."""
    old_points = {p.id: p for p in points}
    updated = []
    for point_id, new in shown.items():
        old = old_points.get(point_id)
        if old is None:
            updated.append(Keypoint(id=point_id, src_xy=new.xy, label=new.label))
        elif old.src_xy != new.xy:
            moved = dataclasses.replace(old, src_xy=new.xy, label=new.label)
            updated.append(moved if old.approved else old.moved_source(new.xy))
        else:
            updated.append(dataclasses.replace(old, label=new.label))
    return updated
