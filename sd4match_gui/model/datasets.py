"""Pair lists from what users open: two images, a folder, a pair-list file or an SPair-71k folder.

* **Folder**: its images sorted by name; each image is paired with the next one ((1, 2), (2, 3),
  ...), unless the folder holds a ``pairs.txt`` / ``pairs.csv``, which then wins.
* **Pair list**: one pair a line, ``source target [category]`` separated by whitespace or commas,
  paths relative to the list file; ``#`` starts a comment; a CSV header line is skipped.
* **A benchmark** (SPair-71k, PF-Pascal, PF-Willow in their released layouts): read by
  ``engine.datasets``, with the keypoints as ground truth (the engine's frame: pixel centres).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

from engine.datasets import PairSample, open_dataset
from engine.errors import DocumentError, ImageError
from engine.export.document import Keypoint
from engine.images import IMAGE_SUFFIXES

from .pairs import GroundTruth, PairEntry, pair_id_for

PAIR_LIST_NAMES = ("pairs.txt", "pairs.csv")
DATASET_MARKERS = {  # kind -> (file or folder that marks it, the release's folder name)
    "spair": ("PairAnnotation", "SPair-71k"),
    "pfpascal": ("PF-dataset-PASCAL", "pf-pascal"),
    "pfwillow": ("test_pairs.csv", "pf-willow"),
}
DATASET_SPLITS = {"spair": ("test", "val", "trn"), "pfpascal": ("test", "val", "trn"), "pfwillow": ("test",)}


def pairs_from_images(source: Path, target: Path) -> list[PairEntry]:
    return [PairEntry(pair_id_for(source, target, set()), source.resolve(), target.resolve())]


def pairs_from_folder(folder: Path) -> list[PairEntry]:
    """Pairs of a folder (see the module docstring); raises ImageError if there are none."""
    for name in PAIR_LIST_NAMES:
        if (folder / name).is_file():
            return pairs_from_list(folder / name)
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(images) < 2:
        raise ImageError(f"folder '{folder}' holds {len(images)} image(s); a pair needs at least two")
    taken: set[str] = set()
    pairs = []
    for source, target in itertools.pairwise(images):
        pairs.append(PairEntry(pair_id_for(source, target, taken), source.resolve(), target.resolve()))
        taken.add(pairs[-1].pair_id)
    return pairs


def pairs_from_list(path: Path) -> list[PairEntry]:
    """Pairs of a pair-list file (see the module docstring)."""
    base = path.resolve().parent
    taken: set[str] = set()
    pairs = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, fields in enumerate(csv.reader(_strip_comments(lines)), start=1):
        if len(fields) == 1:
            fields = fields[0].split()
        fields = [f.strip() for f in fields if f.strip()]
        if not fields or (number == 1 and not _is_image(fields[0])):
            continue  # blank or header
        if len(fields) < 2:
            raise DocumentError(f"'{path}' line {number}: expected 'source target [category]'")
        source, target = (base / fields[0]).resolve(), (base / fields[1]).resolve()
        category = fields[2] if len(fields) > 2 else None
        pairs.append(PairEntry(pair_id_for(source, target, taken), source, target, category))
        taken.add(pairs[-1].pair_id)
    if not pairs:
        raise DocumentError(f"'{path}' lists no pairs")
    return pairs


@dataclass(frozen=True)
class DatasetRef:
    """A benchmark split opened as the pair list (sessions store this instead of the pairs).

    Attributes:
        kind: "spair", "pfpascal" or "pfwillow" (``engine.datasets``).
        root: the dataset folder.
        split: "trn", "val" or "test".
    """

    kind: str
    root: Path
    split: str = "test"


def dataset_kind(folder: Path) -> str | None:
    """Which benchmark ``folder`` (or its release-named child) holds, if any."""
    for kind, (marker, release) in DATASET_MARKERS.items():
        if (folder / marker).exists() or (folder / release / marker).exists():
            return kind
    return None


def pairs_from_dataset(dataset: DatasetRef) -> tuple[list[PairEntry], int]:
    """The split's pairs with their ground truth, read by ``engine.datasets``; also returns how many
    pairs were left out because the dataset mirrors their images (PF-Pascal "flip" training pairs),
    which the app shows unmirrored."""
    samples = open_dataset(dataset.kind, dataset.root, dataset.split)
    pairs = [_entry(sample) for sample in samples if not sample.flip]
    if not pairs:
        raise DocumentError(f"every pair of {dataset.kind} '{dataset.split}' is mirrored; open another split")
    return pairs, len(samples) - len(pairs)


def ground_truth_points(pair: PairEntry) -> list[Keypoint]:
    """The dataset's keypoints as the pair's starting points: sources placed, targets to predict.

    The ground-truth targets are not copied into the points; they stay in ``pair.ground_truth``
    as the reference the comparison measures errors against.
    """
    return [Keypoint(id=i, src_xy=truth.src_xy, label=truth.label) for i, truth in enumerate(pair.ground_truth)]


def _labels(sample: PairSample) -> tuple[str, ...]:
    """The dataset's point names (SPair-71k keypoint ids survive an SPair export), else 1..N."""
    return sample.labels or tuple(str(index + 1) for index in range(sample.num_points))


def _entry(sample: PairSample) -> PairEntry:
    truth = tuple(
        GroundTruth((float(s[0]), float(s[1])), (float(t[0]), float(t[1])), label)
        for s, t, label in zip(sample.source_points, sample.target_points, _labels(sample), strict=True)
    )
    return PairEntry(
        pair_id=sample.pair_id,
        source=sample.source_path.resolve(),
        target=sample.target_path.resolve(),
        category=sample.category,
        source_bbox=sample.source_bbox,
        target_bbox=sample.target_bbox,
        ground_truth=truth,
        threshold=sample.threshold,
    )


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _strip_comments(lines: list[str]) -> list[str]:
    return [line.split("#", 1)[0] for line in lines]
