"""PF-Willow in the layout the SD4Match / DHPF / CATs code uses.

::

    pf-willow/
      test_pairs.csv            imageA, imageB, 10 source x, 10 source y, 10 target x, 10 target y
      PF-dataset/{subclass}/{name}.png      subclass e.g. "car(G)", "winebottle(wC)"

The category is the subclass as written ("car(G)"); prompts clean it to "car" with
:func:`~engine.prompts.categories.canonical_category` for every prompt kind. (The official code
cleans it only for text prompts, so its class-prompt lookup asks for "car(G)", and its CPM reads
a PF-Pascal DINOv2 cache that has no PF-Willow images; here DINOv2 runs on the images themselves.)
PCK threshold: the larger extent of the target keypoints (the corrected DHPF/CATs variant).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import DocumentError
from .files import dataset_folder, read_csv, require_files, split_file
from .sample import PairSample, valid_in_both

SPLITS = ("test",)
RELEASE_NAME = "pf-willow"
IMAGES = "PF-dataset"
POINTS_PER_IMAGE = 10
COLUMNS = 2 + 4 * POINTS_PER_IMAGE


def read_pfwillow(root: str | Path, split: str = "test") -> list[PairSample]:
    """All pairs of the (only) test split, in csv order."""
    folder = dataset_folder(root, "test_pairs.csv", RELEASE_NAME, "PF-Willow")
    pair_list = split_file(folder / f"{split}_pairs.csv", "PF-Willow", split, SPLITS)
    _, rows = read_csv(pair_list)
    samples = []
    for line, row in enumerate(rows, start=2):
        if len(row) != COLUMNS:
            raise DocumentError(f"'{pair_list}' line {line} has {len(row)} columns, expected {COLUMNS}")
        try:
            coordinates = np.array([float(value) for value in row[2:]], dtype=np.float64)
        except ValueError as exc:
            raise DocumentError(f"'{pair_list}' line {line} has a non-numeric coordinate: {exc}") from exc
        # Per image: 10 x values then 10 y values.
        source, target = (block.reshape(2, POINTS_PER_IMAGE).T for block in coordinates.reshape(2, -1))
        paths = [_image_path(folder, value, pair_list, line) for value in row[:2]]
        keep = valid_in_both(source, target)
        subclass = paths[0].parent.name
        samples.append(
            PairSample(
                pair_id=f"{paths[0].stem}-{paths[1].stem}:{subclass}",
                category=subclass,
                source_path=paths[0],
                target_path=paths[1],
                source_points=source[keep],
                target_points=target[keep],
                source_bbox=None,
                target_bbox=None,
                threshold="points",
            )
        )
    require_files([path for sample in samples for path in (sample.source_path, sample.target_path)], pair_list)
    return samples


def _image_path(folder: Path, value: str, pair_list: Path, line: int) -> Path:
    """``"PF-dataset/car(G)/Cars_000a.png"`` -> ``folder/PF-dataset/car(G)/Cars_000a.png``."""
    parts = PurePosixPath(value.strip().replace("\\", "/")).parts
    if len(parts) < 2:
        raise DocumentError(f"'{pair_list}' line {line}: image '{value}' is not '{IMAGES}/{{subclass}}/{{name}}'")
    return folder / IMAGES / parts[-2] / parts[-1]
