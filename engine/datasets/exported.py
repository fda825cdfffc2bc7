"""The user's own annotations: pairs of ``sd-correspondence`` files (see :mod:`engine.export.document`).

A keypoint is ground truth when a person approved it: status "accepted" or "corrected" with a
``trg_xy``. Predictions nobody checked ("predicted"), rejected points and points marked not
labelled (visibility 0) are left out, and so are pairs with no ground-truth point left. PCK
threshold: max side of the target box when the file has one, else max(H, W) of the target image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DocumentError
from ..export.converters import keypoint_name
from ..export.document import SCHEMA, CorrespondenceDocument, Keypoint, PairRecord
from .files import read_json
from .sample import PairSample


def read_exported(paths: str | Path | Sequence[str | Path]) -> list[PairSample]:
    """Pairs with ground truth from one file, a folder of files, or several of either.

    A folder contributes every ``*.json`` in it that declares the ``sd-correspondence`` schema
    (other JSON files are skipped). With more than one file, pair ids are prefixed with the file
    name (``"session/pair-7"``) so that they stay unique.
    """
    files = _document_files([paths] if isinstance(paths, str | Path) else list(paths))
    samples = []
    for path in files:
        document = CorrespondenceDocument.load(path)
        prefix = f"{path.stem}/" if len(files) > 1 else ""
        samples += [sample for record in document.pairs if (sample := _sample(record, prefix)) is not None]
    ids = [sample.pair_id for sample in samples]
    if len(set(ids)) != len(ids):
        repeated = sorted({pair_id for pair_id in ids if ids.count(pair_id) > 1})
        raise DocumentError(f"pair ids repeat across the annotation files: {', '.join(repeated[:5])}")
    return samples


def is_ground_truth(keypoint: Keypoint) -> bool:
    return keypoint.trg_xy is not None and keypoint.approved and keypoint.visibility != 0


def _document_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found = [path for path in sorted(entry.glob("*.json")) if _declares_schema(path)]
            if not found:
                raise DocumentError(f"folder '{entry}' holds no {SCHEMA} JSON files")
            files += found
        elif entry.is_file():
            files.append(entry)
        else:
            raise DocumentError(f"annotation file or folder '{entry}' does not exist")
    if not files:
        raise DocumentError("no annotation files given")
    return list(dict.fromkeys(path.resolve() for path in files))


def _declares_schema(path: Path) -> bool:
    data = read_json(path)
    return isinstance(data, dict) and data.get("schema") == SCHEMA


def _sample(record: PairRecord, prefix: str) -> PairSample | None:
    keypoints = [keypoint for keypoint in record.keypoints if is_ground_truth(keypoint)]
    if not keypoints:
        return None
    target_bbox = record.target.bbox_xyxy
    return PairSample(
        pair_id=prefix + record.pair_id,
        category=record.category or "",
        source_path=record.source.path,
        target_path=record.target.path,
        source_points=np.array([keypoint.src_xy for keypoint in keypoints], dtype=np.float64),
        target_points=np.array([keypoint.trg_xy for keypoint in keypoints], dtype=np.float64),
        source_bbox=record.source.bbox_xyxy,
        target_bbox=target_bbox,
        threshold="bbox" if target_bbox is not None else "image",
        labels=tuple(keypoint_name(keypoint) for keypoint in keypoints),
    )
