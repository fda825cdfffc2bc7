"""PF-Pascal in the layout the SD4Match / DHPF / CATs code uses.

::

    pf-pascal/
      {trn,val,test}_pairs.csv     source_image, target_image, class (1-based VOC index), flip (trn only)
      PF-dataset-PASCAL/
        JPEGImages/{name}.jpg
        Annotations/{class}/{name}.mat   kps (K x 2, NaN rows for keypoints not visible), bbox (1 x 4)

Only keypoints valid in both images are kept. ``flip`` pairs mirror both images; their points
and boxes are mirrored here (x -> W - 1 - x in pixel-centre coordinates; the official code uses
W - x). PCK threshold: max(H, W) of the target image.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import numpy as np
import scipy.io

from ..errors import DocumentError
from ..prompts.categories import PFPASCAL_CATEGORIES
from .files import dataset_folder, image_size, read_csv, require_files, split_file
from .sample import BBox, PairSample, mirror_bbox, mirror_points, valid_in_both

SPLITS = ("trn", "val", "test")
RELEASE_NAME = "pf-pascal"
IMAGES = Path("PF-dataset-PASCAL") / "JPEGImages"
ANNOTATIONS = Path("PF-dataset-PASCAL") / "Annotations"
COLUMNS = ("source_image", "target_image", "class")


def read_pfpascal(root: str | Path, split: str = "test") -> list[PairSample]:
    """All pairs of a split, in csv order; pairs with no keypoint valid in both images are left out."""
    folder = dataset_folder(root, "PF-dataset-PASCAL", RELEASE_NAME, "PF-Pascal")
    pair_list = split_file(folder / f"{split}_pairs.csv", "PF-Pascal", split, SPLITS)
    header, rows = read_csv(pair_list)
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise DocumentError(f"'{pair_list}' lacks the column(s) {', '.join(missing)} (header: {', '.join(header)})")
    column = {name: header.index(name) for name in header}
    samples: list[PairSample] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        try:
            sample = _read_pair(folder, row, column, pair_list, line)
        except (IndexError, ValueError) as exc:
            raise DocumentError(f"'{pair_list}' line {line} is malformed: {exc}") from exc
        if sample is None:
            continue
        # The csv may list a pair twice; suffixes keep pair ids unique.
        seen[sample.pair_id] = seen.get(sample.pair_id, 0) + 1
        if seen[sample.pair_id] > 1:
            sample = dataclasses.replace(sample, pair_id=f"{sample.pair_id}#{seen[sample.pair_id]}")
        samples.append(sample)
    return samples


def _read_pair(folder: Path, row: list[str], column: dict[str, int], pair_list: Path, line: int) -> PairSample | None:
    where = f"'{pair_list}' line {line}"
    class_index = int(row[column["class"]])
    if not 1 <= class_index <= len(PFPASCAL_CATEGORIES):
        raise DocumentError(f"{where}: class {class_index} is not in 1..{len(PFPASCAL_CATEGORIES)}")
    category = PFPASCAL_CATEGORIES[class_index - 1]
    flip = "flip" in column and int(row[column["flip"]] or 0) != 0
    names = [PurePosixPath(row[column[key]].strip().replace("\\", "/")).name for key in COLUMNS[:2]]
    paths = [folder / IMAGES / name for name in names]
    require_files(paths, pair_list)
    (source_points, source_bbox), (target_points, target_bbox) = (
        _annotation(folder / ANNOTATIONS / category / f"{Path(name).stem}.mat") for name in names
    )
    if len(source_points) != len(target_points):
        raise DocumentError(
            f"{where}: the annotations of {names[0]} and {names[1]} list {len(source_points)} and "
            f"{len(target_points)} keypoints"
        )
    keep = valid_in_both(source_points, target_points)
    if not keep.any():
        return None
    source_points, target_points = source_points[keep], target_points[keep]
    if flip:
        source_width, target_width = (image_size(path)[0] for path in paths)
        source_points, target_points = (
            mirror_points(source_points, source_width),
            mirror_points(target_points, target_width),
        )
        source_bbox, target_bbox = mirror_bbox(source_bbox, source_width), mirror_bbox(target_bbox, target_width)
    stems = [Path(name).stem for name in names]
    return PairSample(
        pair_id=f"{stems[0]}-{stems[1]}:{category}" + (":flip" if flip else ""),
        category=category,
        source_path=paths[0],
        target_path=paths[1],
        source_points=source_points,
        target_points=target_points,
        source_bbox=source_bbox,
        target_bbox=target_bbox,
        flip=flip,
        threshold="image",
    )


def _annotation(path: Path) -> tuple[np.ndarray, BBox]:
    """``kps`` (K x 2, NaN rows kept) and ``bbox`` of one image's .mat file."""
    if not path.is_file():  # scipy reports a missing file as a confusing TypeError
        raise DocumentError(f"annotation file '{path}' does not exist")
    try:
        contents = scipy.io.loadmat(path)
    except (OSError, ValueError, TypeError) as exc:
        raise DocumentError(f"cannot read MATLAB file '{path}': {exc}") from exc
    for key in ("kps", "bbox"):
        if key not in contents:
            raise DocumentError(f"'{path}' has no '{key}' variable")
    points = np.asarray(contents["kps"], dtype=np.float64)
    if points.size == 0:
        points = np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2:
        raise DocumentError(f"'{path}': kps must be K x 2, got shape {points.shape}")
    bbox = np.asarray(contents["bbox"], dtype=np.float64).reshape(-1)
    if bbox.size != 4 or not np.isfinite(bbox).all():
        raise DocumentError(f"'{path}': bbox must be 4 finite numbers, got {bbox.tolist()}")
    return points, (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
