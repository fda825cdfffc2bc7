"""A collection's template: one image with named keypoints, read from an export, a session or COCO.

* **sd-correspondence or session JSON**: the first pair's source image and that pair's keypoints
  (their ``id``, ``label`` and ``src_xy``).
* **COCO keypoints file**: the first image with an annotation that places a keypoint, that
  annotation's keypoints with ``v > 0``, named after its category (ids are the 0-based positions in
  the category's ``keypoints``). ``file_name`` is resolved against the COCO file's folder.

The template's :class:`KeypointSchema` orders the keypoints of a COCO export: the COCO category's,
or for an sd-correspondence template the labels in keypoint order (numbered when labels are
missing or repeat).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DocumentError
from ..export.document import SCHEMA, CorrespondenceDocument
from ..frames import validate_points
from ..images import LoadedImage, load_image
from .schema import KeypointSchema, numbered_schema, schema_from_coco


@dataclass(frozen=True)
class TemplatePoint:
    """A keypoint placed on the template: ``id`` and ``label`` travel to every prediction."""

    id: int
    label: str
    xy: tuple[float, float]
    visibility: int = 2


@dataclass(frozen=True)
class Template:
    """The template image, its points and the schema naming them.

    Attributes:
        image_path: the template image.
        points: placed keypoints, in file order.
        schema: keypoint names in export order.
        slots: per point, its 0-based position in ``schema.keypoints``.
        category: the category, when the file names one.
    """

    image_path: Path
    points: tuple[TemplatePoint, ...]
    schema: KeypointSchema
    slots: tuple[int, ...]
    category: str | None = None

    @property
    def xy(self) -> np.ndarray:
        """``N x 2`` template pixels."""
        return np.array([p.xy for p in self.points], dtype=np.float64).reshape(-1, 2)

    def load_image(self) -> LoadedImage:
        """The template image, with every point checked to lie inside it."""
        image = load_image(self.image_path)
        validate_points(self.xy, image.width, image.height, f"the template image '{image.name}'")
        return image


def read_template(path: str | Path) -> Template:
    """The template of an sd-correspondence/session JSON or a COCO keypoints file (see module doc)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read template '{path}': {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DocumentError(f"template '{path}' is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("schema") == SCHEMA:
        return _from_correspondence(path)
    if isinstance(data, dict) and "annotations" in data and "categories" in data:
        return _from_coco(data, path)
    raise DocumentError(
        f"template '{path}' is neither an {SCHEMA} / session file nor a COCO keypoints file "
        f'(expected "schema": "{SCHEMA}", or "images", "annotations" and "categories")'
    )


def _from_correspondence(path: Path) -> Template:
    document = CorrespondenceDocument.load(path)
    if not document.pairs:
        raise DocumentError(f"template '{path}' holds no pairs")
    pair = document.pairs[0]
    if not pair.keypoints:
        raise DocumentError(f"template '{path}': pairs[0] ({pair.pair_id}) has no keypoints")
    points = tuple(TemplatePoint(k.id, k.label, k.src_xy) for k in pair.keypoints)
    labels = [p.label for p in points]
    if all(labels) and len(set(labels)) == len(labels):
        schema = KeypointSchema(pair.category or "object", tuple(labels))
    else:
        schema = numbered_schema(len(points), pair.category or "object")
    return Template(pair.source.path, points, schema, tuple(range(len(points))), pair.category)


def _from_coco(data: dict[str, Any], path: Path) -> Template:
    where = f"COCO file '{path}'"
    images, annotations = data.get("images"), data.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise DocumentError(f"{where}: images and annotations must be lists")
    for index, annotation in enumerate(annotations):
        flat = annotation.get("keypoints") if isinstance(annotation, dict) else None
        if isinstance(flat, list) and any(v > 0 for v in flat[2::3] if isinstance(v, int | float)):
            return _coco_annotation_template(data, images, annotation, f"{where}: annotations[{index}]", path)
    raise DocumentError(f"{where} has no annotation with a labelled keypoint (v > 0)")


def _coco_annotation_template(
    data: dict[str, Any], images: list[Any], annotation: dict[str, Any], where: str, path: Path
) -> Template:
    schema = schema_from_coco(data, annotation.get("category_id"), where=f"COCO file '{path}'")
    flat = annotation["keypoints"]
    if len(flat) != 3 * len(schema.keypoints) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in flat
    ):
        raise DocumentError(
            f"{where}.keypoints must hold {3 * len(schema.keypoints)} finite numbers "
            f"([x, y, v] for each of the {len(schema.keypoints)} keypoints of '{schema.name}')"
        )
    image = next((i for i in images if isinstance(i, dict) and i.get("id") == annotation.get("image_id")), None)
    if image is None or not isinstance(image.get("file_name"), str):
        raise DocumentError(f"{where}.image_id {annotation.get('image_id')!r} names no image with a file_name")
    points, slots = [], []
    for slot, name in enumerate(schema.keypoints):
        x, y, v = flat[3 * slot : 3 * slot + 3]
        if v > 0:
            points.append(TemplatePoint(slot, name, (float(x), float(y)), int(v)))
            slots.append(slot)
    image_path = Path(os.path.normpath(path.resolve().parent / image["file_name"]))
    return Template(image_path, tuple(points), schema, tuple(slots), schema.name)
