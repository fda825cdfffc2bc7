"""One annotated point pair: a source point, its target, and what every run predicted for it.

All coordinates are original-image pixels, (x, y), (0, 0) the centre of the top-left pixel (the
engine's and the export format's frame). Values are frozen: an edit makes a new value, so the undo
history can keep "before" and "after" without copying.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

Point = tuple[float, float]

VISIBILITY_NAMES = {0: "not labelled", 1: "occluded", 2: "visible"}  # COCO's v flag
APPROVED_STATUSES = ("accepted", "corrected")  # a human vouched for trg_xy


@dataclass(frozen=True)
class PredictionRecord:
    """What one run (see :class:`~sd4match_gui.model.runs.RunRegistry`) predicted for a point.

    Attributes:
        run_id: the run that produced it.
        xy: target pixels.
        confidence: in [0, 1], see ``engine.localisation.confidence``.
    """

    run_id: str
    xy: Point
    confidence: float


@dataclass(frozen=True)
class Correspondence:
    """A numbered source point and its target.

    Attributes:
        id: stable number within its pair (shown as ``id + 1``).
        src_xy: source pixels.
        trg_xy: the target the annotation stands for: the primary prediction while ``status`` is
            "predicted", the user's point once "corrected"; None until something predicted it.
        status: "predicted", "accepted", "corrected" or "rejected".
        visibility: COCO flag: 0 not labelled, 1 occluded, 2 visible.
        label: free name (e.g. the SPair-71k keypoint id).
        predictions: the latest prediction of each run, in the order runs first answered.
    """

    id: int
    src_xy: Point
    trg_xy: Point | None = None
    status: str = "predicted"
    visibility: int = 2
    label: str = ""
    predictions: tuple[PredictionRecord, ...] = ()

    @property
    def number(self) -> int:
        """The number users see (1-based)."""
        return self.id + 1

    @property
    def approved(self) -> bool:
        return self.status in APPROVED_STATUSES

    def prediction(self, run_id: str) -> PredictionRecord | None:
        return next((p for p in self.predictions if p.run_id == run_id), None)

    def with_prediction(self, record: PredictionRecord, primary: bool) -> Correspondence:
        """Store ``record`` (replacing that run's older one); a primary prediction also moves an
        unapproved target, because "predicted" means "whatever the current settings say"."""
        if self.prediction(record.run_id) is None:
            predictions = (*self.predictions, record)
        else:  # in its place: the order stays that of the runs' first answers
            predictions = tuple(record if p.run_id == record.run_id else p for p in self.predictions)
        trg_xy = record.xy if primary and self.status == "predicted" else self.trg_xy
        return dataclasses.replace(self, predictions=predictions, trg_xy=trg_xy)

    def moved_source(self, src_xy: Point) -> Correspondence:
        """A new source position invalidates every prediction and the old target."""
        return dataclasses.replace(self, src_xy=src_xy, trg_xy=None, status="predicted", predictions=())

    def corrected(self, trg_xy: Point) -> Correspondence:
        return dataclasses.replace(self, trg_xy=trg_xy, status="corrected")
