"""Annotated image pairs: the benchmarks in their released layouts and the user's own annotations.

>>> samples = open_dataset("spair", "/data/SPair-71k", "test")
>>> samples[0].pair_id, samples[0].source_points.shape
('...-2008_000585-2008_006324:aeroplane', (N, 2))

Every reader returns a list of :class:`PairSample` in the dataset's own order, with points in
original pixels ((0, 0) the centre of the top-left pixel). Problems with the files raise
:class:`~engine.errors.DocumentError` naming the file.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

if TYPE_CHECKING:
    from .registry import DATASET_KINDS, open_dataset
    from .sample import THRESHOLDS, PairSample, Threshold

# Imported on first use (engine/lazy.py): the command line reads DATASET_KINDS without numpy or scipy.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "DATASET_KINDS": ".registry",
        "THRESHOLDS": ".sample",
        "PairSample": ".sample",
        "Threshold": ".sample",
        "open_dataset": ".registry",
    },
)

__all__ = ["DATASET_KINDS", "THRESHOLDS", "PairSample", "Threshold", "open_dataset"]
