"""SPair-71k in its released layout.

::

    SPair-71k/
      Layout/large/{trn,val,test}.txt      one pair a line: {id}-{source}-{target}:{category}
      PairAnnotation/{split}/{line}.json   src_kps, trg_kps ([[x, y], ...], index-aligned),
                                           kps_ids (their ids in the category's keypoint list),
                                           src_bndbox, trg_bndbox ([x1, y1, x2, y2]), category,
                                           src_imname, trg_imname, ...
      JPEGImages/{category}/{name}.jpg

The pair annotations hold only the keypoints visible in both images (the official reader pads
them to 20 with -2; nothing is padded here). PCK threshold: max side of the target box.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DocumentError
from .files import dataset_folder, number_list, read_json, require_files, split_file
from .sample import PairSample

SPLITS = ("trn", "val", "test")
RELEASE_NAME = "SPair-71k"


def read_spair(root: str | Path, split: str = "test") -> list[PairSample]:
    """All pairs of a split, in the order of its layout file."""
    folder = dataset_folder(root, "PairAnnotation", RELEASE_NAME, "SPair-71k")
    layout = split_file(folder / "Layout" / "large" / f"{split}.txt", "SPair-71k", split, SPLITS)
    try:
        lines = [line.strip() for line in layout.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read '{layout}': {exc}") from exc
    samples = [_read_pair(folder, split, line, layout) for line in lines]
    require_files([path for sample in samples for path in (sample.source_path, sample.target_path)], layout)
    return samples


def _read_pair(folder: Path, split: str, line: str, layout: Path) -> PairSample:
    names, category = _parse_line(line, layout)
    annotation_path = folder / "PairAnnotation" / split / f"{line}.json"
    data = read_json(annotation_path)
    if not isinstance(data, dict):
        raise DocumentError(f"'{annotation_path}' does not hold a JSON object")
    category = str(data.get("category") or category)
    source_name = str(data.get("src_imname") or f"{names[0]}.jpg")
    target_name = str(data.get("trg_imname") or f"{names[1]}.jpg")
    where = f"'{annotation_path}'"
    return PairSample(
        pair_id=line,
        category=category,
        source_path=folder / "JPEGImages" / category / source_name,
        target_path=folder / "JPEGImages" / category / target_name,
        source_points=_keypoints(data.get("src_kps"), f"{where} src_kps"),
        target_points=_keypoints(data.get("trg_kps"), f"{where} trg_kps"),
        source_bbox=tuple(number_list(data.get("src_bndbox"), f"{where} src_bndbox", 4)),  # type: ignore[arg-type]
        target_bbox=tuple(number_list(data.get("trg_bndbox"), f"{where} trg_bndbox", 4)),  # type: ignore[arg-type]
        threshold="bbox",
        labels=_keypoint_ids(data.get("kps_ids"), f"{where} kps_ids"),
    )


def _parse_line(line: str, layout: Path) -> tuple[tuple[str, str], str]:
    """``"{id}-{source}-{target}:{category}"`` -> ((source, target), category)."""
    head, _, category = line.rpartition(":")
    parts = head.split("-")
    if not category or len(parts) != 3 or not all(parts):
        raise DocumentError(f"line '{line}' of '{layout}' is not '{{id}}-{{source}}-{{target}}:{{category}}'")
    return (parts[1], parts[2]), category


def _keypoint_ids(value: Any, where: str) -> tuple[str, ...]:
    """``kps_ids`` as text (the release writes strings, converters often integers); optional."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).isdigit() for v in value):
        raise DocumentError(f"{where} must be a list of keypoint ids")
    return tuple(str(int(v)) for v in value)


def _keypoints(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, list):
        raise DocumentError(f"{where} must be a list of [x, y]")
    points = [number_list(point, f"{where}[{index}]", 2) for index, point in enumerate(value)]
    return np.array(points, dtype=np.float64).reshape(-1, 2)
