"""The collection part of a session file: the ``"collection"`` key beside ``"session"``.

The points themselves are the document's pairs (template -> image, as for any session); this part
adds the schema, the template, the "not visible" names, the thresholds, and per image what
propagation found, so a reopened (or recovered) collection resumes where it stopped: images and
points already propagated are not computed again. Paths are relative to the session file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.collections.review import ReviewThresholds
from engine.collections.schema import KeypointSchema
from engine.collections.template import TemplatePoint
from engine.errors import DocumentError
from engine.export.document import relative_path

from .collection import Collection, CollectionImage, PointFacts

COLLECTION_KEY = "collection"
VERSION = 1


def collection_to_dict(
    collection: Collection, base: Path, relative: Callable[[Path, Path], str] = relative_path
) -> dict[str, Any]:
    """The collection part of a session file in folder ``base``; ``relative`` writes its paths."""
    return {
        "version": VERSION,
        "schema": collection.schema.to_dict(),
        "template": {
            "image": relative(collection.template_path, base),
            "points": [{"id": i, "label": p.label, "xy": list(p.xy)} for i, p in sorted(collection.template.items())],
            "not_visible": sorted(collection.not_visible),
        },
        "thresholds": {
            "max_cycle_error": collection.thresholds.max_cycle_error,
            "min_confidence": collection.thresholds.min_confidence,
        },
        "images": [_image_to_dict(image, base, relative) for image in collection.images],
    }


def collection_from_dict(data: Any, base: Path) -> Collection:
    """Raises DocumentError naming the malformed field."""
    where = COLLECTION_KEY
    try:
        _require(isinstance(data, dict), where, "must be an object")
        _require(data.get("version") == VERSION, f"{where}.version", f"must be {VERSION}")
        schema = KeypointSchema.from_dict(data.get("schema"))
        template = data["template"]
        _require(isinstance(template, dict), f"{where}.template", "must be an object")
        images = data["images"]
        _require(isinstance(images, list), f"{where}.images", "must be a list")
        collection = Collection(
            schema,
            _path(template["image"], base),
            [_image_from_dict(entry, base, f"{where}.images[{i}]") for i, entry in enumerate(images)],
        )
        points = {}
        for index, point in enumerate(template["points"]):
            label = str(point["label"])
            _require(label in schema.keypoints, f"{where}.template.points[{index}].label", "must name a keypoint")
            points[int(point["id"])] = TemplatePoint(int(point["id"]), label, _xy(point["xy"]))
        collection.template = points
        hidden = {str(name) for name in template.get("not_visible", [])}
        _require(hidden <= set(schema.keypoints), f"{where}.template.not_visible", "must name keypoints")
        collection.not_visible = hidden
        thresholds = data["thresholds"]
        collection.thresholds = ReviewThresholds(
            float(thresholds["max_cycle_error"]), float(thresholds["min_confidence"])
        )
    except DocumentError as exc:
        raise DocumentError(f"{COLLECTION_KEY}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DocumentError(f"{where} is malformed ({type(exc).__name__}: {exc})") from None
    return collection


def _image_to_dict(image: CollectionImage, base: Path, relative: Callable[[Path, Path], str]) -> dict[str, Any]:
    return {
        "pair_id": image.pair_id,
        "path": relative(image.path, base),
        "error": image.error,
        "points": [
            {
                "id": point_id,
                "from": list(image.propagated[point_id]),
                **(
                    {
                        "confidence": facts.confidence,
                        "cycle_error": facts.cycle_error,
                        "template_side": facts.template_side,
                        "template": facts.template,
                    }
                    if (facts := image.facts.get(point_id)) is not None
                    else {}
                ),
            }
            for point_id in sorted(image.propagated)
        ],
    }


def _image_from_dict(data: Any, base: Path, where: str) -> CollectionImage:
    _require(isinstance(data, dict), where, "must be an object")
    image = CollectionImage(str(data["pair_id"]), _path(data["path"], base), error=str(data.get("error", "")))
    for point in data["points"]:
        point_id = int(point["id"])
        image.propagated[point_id] = _xy(point["from"])
        if "confidence" in point:
            image.facts[point_id] = PointFacts(
                float(point["confidence"]),
                float(point["cycle_error"]),
                int(point["template_side"]),
                str(point["template"]),
            )
    return image


def _path(text: Any, base: Path) -> Path:
    if not isinstance(text, str) or not text:
        raise ValueError("an image path must be a non-empty string")
    return (base / text).resolve()


def _xy(value: Any) -> tuple[float, float]:
    x, y = (float(v) for v in value)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError("coordinates must be finite numbers")
    return (x, y)


def _require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise DocumentError(f"{field} {message}")
