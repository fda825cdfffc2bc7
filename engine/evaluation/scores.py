"""The evaluation result of one pair: its predictions and their errors in both PCK frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..frames import GridFrame
from .pck import FRAMES, Measurement, measure

if TYPE_CHECKING:  # the app imports PCK helpers without the dataset readers (and scipy)
    from ..datasets import PairSample


@dataclass(frozen=True, eq=False)
class PairScore:
    """One evaluated pair.

    Attributes:
        pair_id, category: from the :class:`~engine.datasets.PairSample`.
        predicted: ``N x 2`` predicted target points, original target pixels.
        measurements: frame ("square", "pixels") -> per-point errors and theta in that frame.
    """

    pair_id: str
    category: str
    predicted: np.ndarray
    measurements: dict[str, Measurement]

    @property
    def num_points(self) -> int:
        return len(self.predicted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; floats keep full precision, so a reloaded score gives identical PCK."""
        return {
            "pair_id": self.pair_id,
            "category": self.category,
            "predicted": self.predicted.tolist(),
            "frames": {name: {"theta": m.theta, "errors": m.errors.tolist()} for name, m in self.measurements.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairScore:
        """Inverse of :meth:`to_dict`; raises KeyError, TypeError or ValueError on a malformed record."""
        predicted = np.array(data["predicted"], dtype=np.float64).reshape(-1, 2)
        measurements = {
            name: Measurement(
                np.array(data["frames"][name]["errors"], dtype=np.float64), float(data["frames"][name]["theta"])
            )
            for name in FRAMES
        }
        if any(len(m.errors) != len(predicted) for m in measurements.values()):
            raise ValueError(f"pair '{data['pair_id']}' has more or fewer errors than predictions")
        return cls(str(data["pair_id"]), str(data["category"]), predicted, measurements)


def score_pair(sample: PairSample, predicted: np.ndarray, target_frame: GridFrame) -> PairScore:
    """Score ``N x 2`` predictions (original target pixels) against the sample's target points."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    measurements = measure(predicted, sample.target_points, sample.threshold, sample.target_bbox, target_frame)
    return PairScore(sample.pair_id, sample.category, predicted, measurements)
