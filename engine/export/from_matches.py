"""Building an ``sd-correspondence`` document from engine results (``match`` and ``compare``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..settings import LocalisationSettings
from .document import CONFIDENCE_DIGITS, CorrespondenceDocument, ImageRef, Keypoint, PairRecord, Prediction, Run

if TYPE_CHECKING:  # annotations only: importing this module loads no torch
    from ..images import LoadedImage
    from ..prepared_pair import MatchResult, PreparedPair

LOCALISATION_NAMES = {"kernel": "kernel_softargmax", "argmax": "argmax", "softargmax": "softargmax"}


@dataclass(frozen=True)
class RunResult:
    """One variant's predictions for the same source points."""

    run_id: str
    pair: PreparedPair
    localisation: LocalisationSettings
    result: MatchResult


def run_details(pair: PreparedPair, localisation: LocalisationSettings) -> dict[str, Any]:
    """The ``runs[]`` entry (without its id): model, features, prompt and matching settings."""
    matching = {
        "similarity": "cosine",
        "localisation": LOCALISATION_NAMES[localisation.method],
        "sigma": localisation.sigma,
        "temperature": localisation.temperature,
    }
    return pair.run | {"matching": matching}


def image_ref(image: LoadedImage) -> ImageRef:
    assert image.path is not None, "exported images must come from files"
    return ImageRef(path=image.path, width=image.width, height=image.height, sha256=image.digest)


def matches_document(
    runs: list[RunResult], category: str | None = None, pair_id: str | None = None
) -> CorrespondenceDocument:
    """One pair, one keypoint per source point, one prediction per run; ``trg_xy`` is the first run's."""
    first = runs[0]
    source, target = first.pair.source_image, first.pair.target_image
    keypoints = []
    for index, src_xy in enumerate(first.result.query_xy):
        predictions = tuple(
            Prediction(
                run_id=run.run_id,
                xy=(float(run.result.match_xy[index, 0]), float(run.result.match_xy[index, 1])),
                confidence=round(float(run.result.confidence[index]), CONFIDENCE_DIGITS),
            )
            for run in runs
        )
        keypoints.append(
            Keypoint(
                id=index,
                label=str(index + 1),
                src_xy=(float(src_xy[0]), float(src_xy[1])),
                trg_xy=predictions[0].xy,
                status="predicted",
                predictions=predictions,
            )
        )
    pair = PairRecord(
        pair_id=pair_id or f"{source.name}-{target.name}",
        category=category,
        source=image_ref(source),
        target=image_ref(target),
        keypoints=keypoints,
    )
    return CorrespondenceDocument(runs=[Run(r.run_id, run_details(r.pair, r.localisation)) for r in runs], pairs=[pair])
