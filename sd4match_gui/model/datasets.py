"""Pair lists from what users open: two images, a folder, a pair-list file or an SPair-71k folder.

* **Folder**: its images sorted by name; each image is paired with the next one ((1, 2), (2, 3),
  ...), unless the folder holds a ``pairs.txt`` / ``pairs.csv``, which then wins.
* **Pair list**: one pair a line, ``source target [category]`` separated by whitespace or commas,
  paths relative to the list file; ``#`` starts a comment; a CSV header line is skipped.
* **SPair-71k**: ``Layout/large/{split}.txt`` (lines ``{id}-{src}-{trg}:{cat}``),
  ``PairAnnotation/{split}/{line}.json`` and ``JPEGImages/{cat}/{name}.jpg``. Keypoints and boxes
  are read when a pair is opened (:func:`complete_pair`); SPair keypoints already use the
  engine's frame (integer pixel centres), so they are taken as they are.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
from pathlib import Path

from engine.errors import DocumentError, ImageError

from .correspondence import Correspondence
from .pairs import GroundTruth, PairEntry, pair_id_for

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
PAIR_LIST_NAMES = ("pairs.txt", "pairs.csv")
SPAIR_SPLITS = ("test", "val", "trn")


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


def is_spair_folder(folder: Path) -> bool:
    return (folder / "PairAnnotation").is_dir() and (folder / "JPEGImages").is_dir()


def spair_splits(root: Path) -> list[str]:
    return [s for s in SPAIR_SPLITS if (root / "PairAnnotation" / s).is_dir()]


def pairs_from_spair(root: Path, split: str = "test") -> list[PairEntry]:
    """The pairs of one SPair-71k split, in the layout file's order (else sorted file names)."""
    annotations = root / "PairAnnotation" / split
    if not annotations.is_dir():
        raise DocumentError(f"'{root}' has no SPair-71k split '{split}' (expected {annotations})")
    layout = root / "Layout" / "large" / f"{split}.txt"
    if layout.is_file():
        names = [line.strip() for line in layout.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        names = sorted(p.stem for p in annotations.glob("*.json"))
    pairs = []
    for name in names:
        stem, _, category = name.partition(":")
        _, source, target = stem.split("-", 2)
        folder = root / "JPEGImages" / category
        pairs.append(
            PairEntry(
                pair_id=name,
                source=(folder / f"{source}.jpg").resolve(),
                target=(folder / f"{target}.jpg").resolve(),
                category=category,
                annotation=(annotations / f"{name}.json").resolve(),
            )
        )
    if not pairs:
        raise DocumentError(f"SPair-71k split '{split}' in '{root}' has no pairs")
    return pairs


def complete_pair(entry: PairEntry) -> PairEntry:
    """Read boxes and keypoints from the pair's annotation file, if it has one not read yet."""
    if entry.annotation is None or entry.ground_truth:
        return entry
    try:
        data = json.loads(entry.annotation.read_text(encoding="utf-8"))
        ids = data.get("kps_ids") or list(range(len(data["src_kps"])))
        truth = tuple(
            GroundTruth((float(s[0]), float(s[1])), (float(t[0]), float(t[1])), str(i))
            for s, t, i in zip(data["src_kps"], data["trg_kps"], ids, strict=True)
        )
        return dataclasses.replace(
            entry,
            ground_truth=truth,
            source_bbox=_bbox(data.get("src_bndbox")),
            target_bbox=_bbox(data.get("trg_bndbox")),
            category=data.get("category", entry.category),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DocumentError(f"cannot read SPair-71k annotation '{entry.annotation}': {exc}") from exc


def _bbox(values: list[float] | None) -> tuple[float, float, float, float] | None:
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3])) if values else None


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _strip_comments(lines: list[str]) -> list[str]:
    return [line.split("#", 1)[0] for line in lines]


def ground_truth_points(pair: PairEntry) -> list[Correspondence]:
    """The dataset's keypoints as the pair's starting points: sources placed, targets to predict.

    The ground-truth targets are not copied into the points; they stay in ``pair.ground_truth``
    as the reference the comparison measures errors against.
    """
    return [Correspondence(id=i, src_xy=truth.src_xy, label=truth.label) for i, truth in enumerate(pair.ground_truth)]
