"""Keypoint schemas: the named keypoints of one category, in order, with an optional skeleton.

A schema is a small JSON file::

    {
      "schema": "sd4match-keypoints",
      "version": 1,
      "name": "person",
      "keypoints": ["nose", "left_eye", ...],
      "skeleton": [["left_ankle", "left_knee"], ...],
      "colours": {"nose": "#e6194b"}
    }

``skeleton`` (pairs of keypoint names) and ``colours`` (keypoint name -> ``#rrggbb``) are optional.
Built in: COCO's 17-point person schema and a "numbered" schema ("1", "2", ...). A schema can also
be read from the ``categories`` of a COCO keypoints file, whose skeleton holds 1-based indices.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import DocumentError

FORMAT = "sd4match-keypoints"
FORMAT_VERSION = 1
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class SchemaError(DocumentError):
    """A keypoint schema (or the COCO category it is read from) is malformed; the message names the field."""


@dataclass(frozen=True)
class KeypointSchema:
    """Keypoint names of one category.

    Attributes:
        name: the category ("person", "bird").
        keypoints: unique non-empty names, in the order exports use (COCO ``keypoints`` order).
        skeleton: pairs of names joined by a line when drawn.
        colours: optional ``#rrggbb`` per keypoint name.
    """

    name: str
    keypoints: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...] = ()
    colours: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    def index(self, keypoint: str) -> int:
        """0-based position of a keypoint name."""
        return self.keypoints.index(keypoint)

    def coco_skeleton(self) -> list[list[int]]:
        """The skeleton as COCO writes it: pairs of 1-based keypoint indices."""
        return [[self.index(a) + 1, self.index(b) + 1] for a, b in self.skeleton]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "keypoints": list(self.keypoints),
            "skeleton": [list(pair) for pair in self.skeleton],
            "colours": dict(self.colours),
        }

    @classmethod
    def from_dict(cls, data: Any) -> KeypointSchema:
        if not isinstance(data, dict) or data.get("schema") != FORMAT:
            raise SchemaError(f'not a keypoint schema (missing "schema": "{FORMAT}")')
        if data.get("version") != FORMAT_VERSION:
            raise SchemaError(f"version is {data.get('version')!r}; this reader handles version {FORMAT_VERSION}")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError("name must be a non-empty string")
        keypoints = data.get("keypoints")
        if not isinstance(keypoints, list):
            raise SchemaError("keypoints must be a list of names")
        skeleton = data.get("skeleton", [])
        if not isinstance(skeleton, list):
            raise SchemaError("skeleton must be a list of [name, name] pairs")
        for index, pair in enumerate(skeleton):
            if not isinstance(pair, list) or len(pair) != 2:
                raise SchemaError(f"skeleton[{index}] must be a [name, name] pair, got {pair!r}")
        colours = data.get("colours", {})
        if not isinstance(colours, dict):
            raise SchemaError("colours must be an object of keypoint name -> #rrggbb")
        return cls(name, tuple(keypoints), tuple((a, b) for a, b in skeleton), dict(colours))


def _validate(schema: KeypointSchema) -> None:
    if not isinstance(schema.name, str) or not schema.name:
        raise SchemaError("name must be a non-empty string")
    if not schema.keypoints:
        raise SchemaError("keypoints must hold at least one name")
    for index, keypoint in enumerate(schema.keypoints):
        if not isinstance(keypoint, str) or not keypoint.strip():
            raise SchemaError(f"keypoints[{index}] must be a non-empty string, got {keypoint!r}")
        if keypoint in schema.keypoints[:index]:
            raise SchemaError(f"keypoints[{index}] '{keypoint}' repeats an earlier name")
    known = set(schema.keypoints)
    for index, pair in enumerate(schema.skeleton):
        for name in pair:
            if name not in known:
                raise SchemaError(f"skeleton[{index}] names '{name}', which is not in keypoints")
        if pair[0] == pair[1]:
            raise SchemaError(f"skeleton[{index}] joins '{pair[0]}' to itself")
    for name, colour in schema.colours.items():
        if name not in known:
            raise SchemaError(f"colours names '{name}', which is not in keypoints")
        if not isinstance(colour, str) or not COLOUR.fullmatch(colour):
            raise SchemaError(f"colours['{name}'] must be '#rrggbb', got {colour!r}")


# ---- built in ----

COCO_PERSON_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# COCO's person skeleton, 1-based indices into the names above (as in person_keypoints_*.json).
COCO_PERSON_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip

COCO_PERSON = KeypointSchema(
    "person",
    COCO_PERSON_KEYPOINTS,
    tuple((COCO_PERSON_KEYPOINTS[a - 1], COCO_PERSON_KEYPOINTS[b - 1]) for a, b in COCO_PERSON_SKELETON),
)


def numbered_schema(count: int, name: str = "object") -> KeypointSchema:
    """The default schema: keypoints named "1" .. "count", no skeleton."""
    if count < 1:
        raise SchemaError(f"a numbered schema needs at least one keypoint, got {count}")
    return KeypointSchema(name, tuple(str(index + 1) for index in range(count)))


BUILT_IN = {"coco-person": COCO_PERSON}


# ---- files ----


def load_schema(path: str | Path) -> KeypointSchema:
    """Read and validate a schema file; errors name the file and the field."""
    try:
        return KeypointSchema.from_dict(_read_json(path))
    except SchemaError as exc:
        raise SchemaError(f"keypoint schema '{path}': {exc}") from None


def save_schema(schema: KeypointSchema, path: str | Path) -> None:
    """Write atomically (a reader sees the old file or the new one)."""
    atomic.write_json(path, schema.to_dict())


def schema_from_coco(data: Any, category: str | int | None = None, where: str = "COCO file") -> KeypointSchema:
    """The schema of a COCO keypoints category (by name or id; default: the first with keypoints)."""
    categories = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(categories, list):
        raise SchemaError(f"{where}: categories must be a list")
    for index, entry in enumerate(categories):
        if not isinstance(entry, dict):
            raise SchemaError(f"{where}: categories[{index}] must be an object")
        chosen = entry.get("name") == category or entry.get("id") == category
        if (category is None and entry.get("keypoints")) or chosen:
            return _coco_category(entry, f"{where}: categories[{index}]")
    wanted = "with keypoints" if category is None else f"named or numbered {category!r}"
    raise SchemaError(f"{where}: no category {wanted}")


def import_coco_schema(path: str | Path, category: str | int | None = None) -> KeypointSchema:
    """:func:`schema_from_coco` of a COCO keypoints file."""
    return schema_from_coco(_read_json(path), category, where=f"COCO file '{path}'")


def _coco_category(entry: dict[str, Any], where: str) -> KeypointSchema:
    names = entry.get("keypoints")
    if not isinstance(names, list) or not names:
        raise SchemaError(f"{where}.keypoints must be a non-empty list of names")
    skeleton = entry.get("skeleton") or []
    pairs = []
    for index, link in enumerate(skeleton):
        valid = isinstance(link, list) and len(link) == 2 and all(isinstance(i, int) for i in link)
        if not valid or not all(1 <= i <= len(names) for i in link):
            raise SchemaError(f"{where}.skeleton[{index}] must be two 1-based keypoint indices, got {link!r}")
        pairs.append((names[link[0] - 1], names[link[1] - 1]))
    try:
        return KeypointSchema(str(entry.get("name") or "object"), tuple(names), tuple(pairs))
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc}") from None


def _read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read '{path}': {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SchemaError(f"'{path}' is not valid JSON: {exc}") from exc
