"""Propagating a template's keypoints onto other images, one target at a time.

Each target is matched exactly as ``sd4match match`` matches the template image, that target and
the template's points (same :meth:`Matcher.prepare`, same :meth:`PreparedPair.match`, same
document builder), then every prediction is mapped back to the template for its cycle error
(:func:`engine.collections.review.cycle_errors`, reusing the pair's features).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError
from ..evaluation.distributed import per_pair_threads
from ..export.document import CorrespondenceDocument, PairRecord, Run
from ..export.from_matches import RunResult, matches_document
from ..images import IMAGE_SUFFIXES, LoadedImage
from ..matcher import Matcher
from ..prepared_pair import MatchResult, PreparedPair
from ..prompts.spec import PromptSpec
from ..settings import FeatureSettings, LocalisationSettings
from .review import cycle_errors
from .template import Template

RUN_ID = "r1"  # the run id `sd4match match` writes


@dataclass(frozen=True)
class PropagatedTarget:
    """One target's predictions, as saved for resuming (see :class:`engine.evaluation.store.ResultStore`).

    Attributes:
        pair_id: the key the store files it under: the target's resolved path.
        pair: the pair record (``PairRecord.to_dict``, image paths relative to ``/``).
        run: the run details (``runs[]`` entry without its id).
    """

    pair_id: str
    pair: dict[str, Any]
    run: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"pair_id": self.pair_id, "pair": self.pair, "run": self.run}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PropagatedTarget:
        return cls(str(data["pair_id"]), dict(data["pair"]), dict(data["run"]))

    def record(self) -> PairRecord:
        return PairRecord.from_dict(self.pair, STORE_ROOT, f"saved result of '{self.pair_id}'")


STORE_ROOT = Path("/").resolve()  # saved image paths are relative to the file-system root: absolute


def target_key(path: Path) -> str:
    return str(path.expanduser().resolve())


def find_targets(paths: Sequence[Path]) -> list[Path]:
    """Image files given directly (whatever their ending) and the images in given folders (by name).

    Raises:
        EngineError: a path does not exist, or a folder holds no image.
    """
    targets: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise EngineError(f"folder '{path}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
            targets += found
        elif path.is_file():
            targets.append(path)
        else:
            raise EngineError(f"target '{path}' does not exist")
    return targets


def pair_ids(template: Path, targets: Sequence[Path]) -> list[str]:
    """``{template name}-{target name}`` as ``match`` names a pair; a repeated id gets ``-{position}``."""
    ids: list[str] = []
    for index, target in enumerate(targets):
        pair_id = f"{template.name}-{target.name}"
        ids.append(f"{pair_id}-{index + 1}" if pair_id in ids else pair_id)
    return ids


def match_with_cycle(
    matcher: Matcher,
    template_image: LoadedImage,
    template_xy: np.ndarray,
    target_image: LoadedImage,
    prompt: PromptSpec,
    settings: FeatureSettings,
    localisation: LocalisationSettings,
) -> tuple[PreparedPair, MatchResult, np.ndarray]:
    """``match``'s predictions of ``N x 2`` template points on the target, and their ``N`` cycle errors (px)."""
    pair = matcher.prepare(template_image, target_image, prompt, settings)
    with per_pair_threads():  # the same summation order however many processes share the CPU
        result = pair.match(template_xy, localisation)
        return pair, result, cycle_errors(pair, result, localisation)


def propagate_to(
    matcher: Matcher,
    template: Template,
    template_image: LoadedImage,
    target_image: LoadedImage,
    pair_id: str,
    prompt: PromptSpec,
    settings: FeatureSettings,
    localisation: LocalisationSettings,
    category: str | None = None,
) -> PropagatedTarget:
    """Predict every template point on the target, with its cycle error; ids and labels are the template's."""
    pair, result, cycle = match_with_cycle(
        matcher, template_image, template.xy, target_image, prompt, settings, localisation
    )
    document = matches_document([RunResult(RUN_ID, pair, localisation, result)], category, pair_id)
    record = document.pairs[0]
    record.keypoints = [
        dataclasses.replace(
            keypoint,
            id=point.id,
            label=point.label,
            predictions=(dataclasses.replace(keypoint.predictions[0], cycle_error=round(float(error), 6)),),
        )
        for keypoint, point, error in zip(record.keypoints, template.points, cycle, strict=True)
    ]
    key = target_key(target_image.path) if target_image.path is not None else pair_id
    return PropagatedTarget(key, record.to_dict(STORE_ROOT), document.runs[0].details)


def collection_document(saved: Sequence[PropagatedTarget]) -> CorrespondenceDocument:
    """The sd-correspondence document of a collection: one pair per target, in the given order."""
    runs = [Run(RUN_ID, saved[0].run)] if saved else []
    return CorrespondenceDocument(runs=runs, pairs=[target.record() for target in saved])
