"""Converters from an ``sd-correspondence`` document to other tools' formats.

SPair-71k, PF-Pascal and COCO index pixels like the document: (0, 0) is the centre of the top-left
pixel, so no offset is applied, only rounding where a format wants integers. labelme draws the
image from its top-left *corner*, so its points are shifted by half a pixel. Only usable keypoints
are written: a target exists, the status is not "rejected" and the visibility is not 0 (COCO keeps
the unlabelled ones with ``v = 0`` so that both annotations of a pair share one keypoint order).

Keypoints are numbered as the app numbers them: keypoint ``id`` 0 is point 1 (:attr:`Keypoint.number`),
and named by their label, else by that number (:func:`keypoint_name`), in every format.

* **SPair-71k-style JSON** (one file per pair, the ``PairAnnotation`` layout): integer keypoints,
  ``kps_ids`` from numeric labels (SPair keypoint ids) or else the point numbers, image sizes as
  ``[W, H, 3]``, boxes ``[x1, y1, x2, y2]`` (the whole image when the document has none), and the
  dataset's difficulty flags set to 0 (unknown).
* **PF-Pascal CSV**: ``source_image, target_image, class, XA, YA, XB, YB`` with ``;``-separated
  coordinates (two decimals, in point order) and ``class`` the 1-based PF-Pascal class id (0 when
  unknown); image paths relative to the CSV file.
* **COCO keypoints**: one annotation per image of a pair. A category's ``keypoints`` are the names
  of its pairs' points (in order of first appearance), and every annotation of the category lists
  its points in that order, ``0, 0, 0`` where the pair has no point of that name; so index ``j``
  of a source annotation corresponds to index ``j`` of the target one. ``v`` is the visibility
  flag (0 where the target is missing); coordinates keep two decimals. Each annotation also
  carries ``pair_id``, ``role`` and ``point_numbers`` (per name, the pair's point number or null;
  extra keys COCO readers ignore).
* **labelme pairs**: two labelme files per pair, ``{pair}_source.json`` and ``{pair}_target.json``,
  one ``point`` shape per keypoint, ``label`` its name and ``group_id`` its number, which link the
  two files; ``imagePath`` relative to the file, no inline ``imageData``. Open them in labelme with
  File > Open. The keypoint's status goes to ``description`` and an occluded point (visibility 1)
  has the shape flag ``occluded``; ``sd_correspondence`` (pair id, role, category) is an extra
  top-level key, which labelme keeps as ``otherData``.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from .. import atomic
from ..file_names import unique_stems
from ..prompts.categories import PFPASCAL_CATEGORIES, canonical_category
from .document import COORDINATES, CorrespondenceDocument, ImageRef, Keypoint, PairRecord, relative_path

PFPASCAL_COLUMNS = ("source_image", "target_image", "class", "XA", "YA", "XB", "YB")
SPAIR_FLAGS = ("mirror", "viewpoint_variation", "scale_variation", "truncation", "occlusion")


def keypoint_name(keypoint: Keypoint) -> str:
    """Its label, else its number: what the app's Points table shows for it."""
    return keypoint.label or str(keypoint.number)


def usable_keypoints(pair: PairRecord) -> list[Keypoint]:
    """Keypoints with a target, not rejected, not flagged "not labelled", by id."""
    return sorted(
        (k for k in pair.keypoints if k.trg_xy is not None and k.status != "rejected" and k.visibility > 0),
        key=lambda k: k.id,
    )


# ---- SPair-71k ----


def spair_annotation(pair: PairRecord) -> dict[str, Any]:
    """One pair as an SPair-71k ``PairAnnotation`` JSON object."""
    keypoints = usable_keypoints(pair)
    return {
        "pair_id": pair.pair_id,
        "filename": f"{pair.pair_id}.json",
        "src_imname": pair.source.path.name,
        "trg_imname": pair.target.path.name,
        "src_imsize": [pair.source.width, pair.source.height, 3],
        "trg_imsize": [pair.target.width, pair.target.height, 3],
        "src_bndbox": _spair_box(pair.source),
        "trg_bndbox": _spair_box(pair.target),
        "src_pose": 0,
        "trg_pose": 0,
        "src_kps": [[_round(k.src_xy[0]), _round(k.src_xy[1])] for k in keypoints],
        "trg_kps": [[_round(k.trg_xy[0]), _round(k.trg_xy[1])] for k in keypoints],  # type: ignore[index]
        "kps_ids": [int(k.label) if k.label.isdigit() else k.number for k in keypoints],
        "category": pair.category or "",
        **dict.fromkeys(SPAIR_FLAGS, 0),
    }


def write_spair(document: CorrespondenceDocument, folder: str | Path) -> list[Path]:
    """Write ``{pair_id}.json`` per pair into ``folder`` (created); returns the files."""
    folder = Path(folder)
    written = []
    for pair, stem in zip(document.pairs, unique_stems([p.pair_id for p in document.pairs]), strict=True):
        path = folder / f"{stem}.json"
        atomic.write_json(path, spair_annotation(pair))
        written.append(path)
    return written


# ---- PF-Pascal ----


def pfpascal_csv(document: CorrespondenceDocument, base: Path) -> str:
    """The CSV text; image paths are written relative to ``base``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PFPASCAL_COLUMNS)
    for pair in document.pairs:
        keypoints = usable_keypoints(pair)
        writer.writerow(
            [
                relative_path(pair.source.path, base),
                relative_path(pair.target.path, base),
                _pfpascal_class(pair.category),
                ";".join(f"{k.src_xy[0]:.2f}" for k in keypoints),
                ";".join(f"{k.src_xy[1]:.2f}" for k in keypoints),
                ";".join(f"{k.trg_xy[0]:.2f}" for k in keypoints),  # type: ignore[index]
                ";".join(f"{k.trg_xy[1]:.2f}" for k in keypoints),  # type: ignore[index]
            ]
        )
    return buffer.getvalue()


def write_pfpascal_csv(document: CorrespondenceDocument, path: str | Path) -> Path:
    path = Path(path)
    atomic.write_text(path, pfpascal_csv(document, path.resolve().parent))
    return path


# ---- COCO ----


def coco_keypoints(document: CorrespondenceDocument, base: Path) -> dict[str, Any]:
    """A COCO keypoints dataset: two annotations per pair, keypoints in their category's name order."""
    images: dict[Path, dict[str, Any]] = {}
    categories: dict[str, dict[str, Any]] = {}
    named = [(pair, _coco_named_keypoints(pair)) for pair in document.pairs]
    for pair, keypoints in named:  # every name first: all annotations of a category have the same length
        category = categories.setdefault(
            pair.category or "object",
            {
                "id": len(categories) + 1,
                "name": pair.category or "object",
                "supercategory": "object",
                "keypoints": [],
                "skeleton": [],
            },
        )
        category["keypoints"].extend(name for name in keypoints if name not in category["keypoints"])
    annotations: list[dict[str, Any]] = []
    for pair, keypoints in named:
        category = categories[pair.category or "object"]
        slots = [keypoints.get(name) for name in category["keypoints"]]
        for role, ref in (("source", pair.source), ("target", pair.target)):
            image = images.setdefault(
                ref.path,
                {
                    "id": len(images) + 1,
                    "file_name": relative_path(ref.path, base),
                    "width": ref.width,
                    "height": ref.height,
                },
            )
            annotations.append(_coco_annotation(len(annotations) + 1, image["id"], category["id"], pair, role, slots))
    return {
        "info": {"description": "sd-correspondence export", "coordinates": COORDINATES},
        "images": list(images.values()),
        "annotations": annotations,
        "categories": list(categories.values()),
    }


def _coco_named_keypoints(pair: PairRecord) -> dict[str, Keypoint]:
    """The pair's keypoints that are not rejected, by name; a name given twice in one pair is told
    apart by the point's number."""
    named: dict[str, Keypoint] = {}
    for keypoint in sorted(pair.keypoints, key=lambda k: k.id):
        if keypoint.status != "rejected":
            name = keypoint_name(keypoint)
            named[name if name not in named else f"{name} (point {keypoint.number})"] = keypoint
    return named


def write_coco(document: CorrespondenceDocument, path: str | Path) -> Path:
    path = Path(path)
    atomic.write_json(path, coco_keypoints(document, path.resolve().parent))
    return path


def _coco_annotation(
    annotation_id: int,
    image_id: int,
    category_id: int,
    pair: PairRecord,
    role: str,
    slots: list[Keypoint | None],
) -> dict[str, Any]:
    """One image of a pair; ``slots`` holds the pair's keypoint of each category keypoint name."""
    ref = pair.source if role == "source" else pair.target
    flat: list[float] = []
    placed = []
    for keypoint in slots:
        xy = None if keypoint is None else keypoint.src_xy if role == "source" else keypoint.trg_xy
        if keypoint is None or xy is None or keypoint.visibility == 0:
            flat += [0, 0, 0]
        else:
            flat += [round(xy[0], 2), round(xy[1], 2), keypoint.visibility]
            placed.append(xy)
    box = coco_box(ref, placed)
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "keypoints": flat,
        "num_keypoints": len(placed),
        "bbox": box,
        "area": round(box[2] * box[3], 2),
        "iscrowd": 0,
        "pair_id": pair.pair_id,
        "role": role,
        "point_numbers": [None if k is None else k.number for k in slots],
    }


def coco_box(ref: ImageRef, points: list[tuple[float, float]]) -> list[float]:
    """``[x, y, w, h]``: the document's box, else the keypoints' extent, else the whole image."""
    if ref.bbox_xyxy is not None:
        x1, y1, x2, y2 = ref.bbox_xyxy
    elif points:
        x1, y1 = min(p[0] for p in points), min(p[1] for p in points)
        x2, y2 = max(p[0] for p in points), max(p[1] for p in points)
    else:
        x1, y1, x2, y2 = 0.0, 0.0, float(ref.width - 1), float(ref.height - 1)
    # Corners rounded as the keypoints are, the size from them: the box still encloses the points.
    x1, y1, x2, y2 = (round(v, 2) for v in (x1, y1, x2, y2))
    return [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)]


# ---- labelme ----

LABELME_VERSION = "5.5.0"  # the file layout written here is that of labelme 4.x and 5.x


def labelme_file(pair: PairRecord, role: str, base: Path) -> dict[str, Any]:
    """One image of a pair (``role`` "source" or "target") as a labelme annotation."""
    ref = pair.source if role == "source" else pair.target
    shapes = []
    for keypoint in usable_keypoints(pair):
        x, y = keypoint.src_xy if role == "source" else keypoint.trg_xy  # type: ignore[misc]
        shapes.append(
            {
                "label": keypoint_name(keypoint),
                "points": [[round(x + 0.5, 3), round(y + 0.5, 3)]],  # labelme: (0, 0) is the image corner
                "group_id": keypoint.number,
                "description": keypoint.status,
                "shape_type": "point",
                "flags": {"occluded": keypoint.visibility == 1},
                "mask": None,
            }
        )
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": relative_path(ref.path, base),
        "imageData": None,
        "imageHeight": ref.height,
        "imageWidth": ref.width,
        "sd_correspondence": {"pair_id": pair.pair_id, "role": role, "category": pair.category},
    }


def write_labelme(document: CorrespondenceDocument, folder: str | Path) -> list[Path]:
    """Write ``{pair}_source.json`` and ``{pair}_target.json`` per pair into ``folder`` (created)."""
    folder = Path(folder)
    base = folder.resolve()
    written = []
    for pair, stem in zip(document.pairs, unique_stems([p.pair_id for p in document.pairs]), strict=True):
        for role in ("source", "target"):
            path = folder / f"{stem}_{role}.json"
            atomic.write_json(path, labelme_file(pair, role, base))
            written.append(path)
    return written


# ---- helpers ----


def _spair_box(ref: ImageRef) -> list[int]:
    if ref.bbox_xyxy is None:
        return [0, 0, ref.width - 1, ref.height - 1]
    return [_round(v) for v in ref.bbox_xyxy]


def _pfpascal_class(category: str | None) -> int:
    name = canonical_category(category) if category else None
    return PFPASCAL_CATEGORIES.index(name) + 1 if name in PFPASCAL_CATEGORIES else 0


def _round(value: float) -> int:
    """Round half up (Python's round() rounds half to even, which would bias .5 coordinates)."""
    return math.floor(value + 0.5)
