"""COCO keypoints export of a collection: one image entry and one annotation per image.

The template image comes first with its own points, then every target with its predictions (a
point's approved ``trg_xy``). ``keypoints`` holds ``[x, y, v]`` in the schema's order, ``v`` the
keypoint's visibility (0 with x = y = 0 where the image has no such point, or it was rejected);
``bbox`` is ``[x, y, w, h]`` of the placed keypoints' extent (the document's box when it has one;
the whole image when nothing is placed); ``categories[0]`` carries the schema's names and its
skeleton as 1-based index pairs. Coordinates: (0, 0) is the centre of the top-left pixel, as in
COCO itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import atomic
from ..export.converters import coco_box
from ..export.document import COORDINATES, CorrespondenceDocument, ImageRef, relative_path
from .schema import KeypointSchema
from .template import Template

Placed = dict[int, tuple[tuple[float, float], int]]  # schema slot -> (xy, visibility)


def collection_coco(document: CorrespondenceDocument, template: Template, base: Path) -> dict[str, Any]:
    """The COCO dataset of a propagated collection (``base``: the folder file names are relative to)."""
    schema = template.schema
    slot_of = {point.id: slot for point, slot in zip(template.points, template.slots, strict=True)}
    entries: list[tuple[ImageRef, Placed]] = []
    if document.pairs:
        own = {slot: (point.xy, point.visibility) for point, slot in zip(template.points, template.slots, strict=True)}
        entries.append((document.pairs[0].source, own))
    for pair in document.pairs:
        placed = {
            slot_of[k.id]: (k.trg_xy, k.visibility)
            for k in pair.keypoints
            if k.id in slot_of and k.trg_xy is not None and k.visibility > 0 and k.status != "rejected"
        }
        entries.append((pair.target, placed))
    images, annotations = [], []
    for index, (ref, placed) in enumerate(entries, start=1):
        images.append(
            {"id": index, "file_name": relative_path(ref.path, base), "width": ref.width, "height": ref.height}
        )
        annotations.append(_annotation(index, ref, placed, schema))
    category = {
        "id": 1,
        "name": schema.name,
        "supercategory": schema.name,
        "keypoints": list(schema.keypoints),
        "skeleton": schema.coco_skeleton(),
    }
    return {
        "info": {"description": "sd4match collection", "coordinates": COORDINATES},
        "images": images,
        "annotations": annotations,
        "categories": [category],
    }


def write_collection_coco(document: CorrespondenceDocument, template: Template, path: str | Path) -> Path:
    """Write :func:`collection_coco` atomically; file names relative to ``path``'s folder."""
    path = Path(path)
    atomic.write_json(path, collection_coco(document, template, path.resolve().parent))
    return path


def _annotation(index: int, ref: ImageRef, placed: Placed, schema: KeypointSchema) -> dict[str, Any]:
    flat: list[float] = []
    for slot in range(len(schema.keypoints)):
        if slot in placed:
            (x, y), visibility = placed[slot]
            flat += [round(x, 2), round(y, 2), visibility]
        else:
            flat += [0, 0, 0]
    box = coco_box(ref, [xy for xy, _ in placed.values()])
    return {
        "id": index,
        "image_id": index,
        "category_id": 1,
        "keypoints": flat,
        "num_keypoints": len(placed),
        "bbox": box,
        "area": round(box[2] * box[3], 2),
        "iscrowd": 0,
    }
