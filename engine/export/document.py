"""The ``sd-correspondence`` JSON format (schema 1.x): runs, pairs, keypoints, predictions.

Coordinates are original-image pixels, (0, 0) the centre of the top-left pixel, EXIF orientation
applied: the frame of SPair-71k and PF-Pascal keypoints. Image paths are stored relative to the
JSON file (as labelme does) and resolved against it when loading. ``trg_xy`` is the point the
user approved (for a fresh prediction, the prediction itself with status "predicted");
``predictions`` keeps every run's guess so that variants can be scored later. Readers accept any
1.x file and reject other major versions. The JSON Schema is ``sd-correspondence.schema.json``
beside this module.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, atomic
from ..errors import DocumentError

SCHEMA = "sd-correspondence"
SCHEMA_VERSION = "1.1.0"  # 1.1: optional prediction cycle_error
STATUSES = ("predicted", "accepted", "corrected", "rejected")
APPROVED_STATUSES = ("accepted", "corrected")  # a human vouched for the target
VISIBILITY_NAMES = {0: "not labelled", 1: "occluded", 2: "visible"}  # COCO's v flag
VISIBILITIES = tuple(VISIBILITY_NAMES)
CONFIDENCE_DIGITS = 6  # confidences are stored rounded: a saved and reopened file shows the same numbers
COORDINATES = {"space": "original_pixels", "origin": "center_of_top_left_pixel", "exif_orientation_applied": True}


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


Point = tuple[float, float]  # (x, y) original-image pixels


@dataclass(frozen=True)
class Prediction:
    """One run's guess for a keypoint: target pixels, confidence in [0, 1], optional heatmap file,
    optional cycle error (source pixels, since 1.1; written only when known)."""

    run_id: str
    xy: Point
    confidence: float | None = None
    heatmap: str | None = None
    cycle_error: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"run_id": self.run_id, "xy": list(self.xy), "confidence": self.confidence, "heatmap": self.heatmap}
        return data if self.cycle_error is None else data | {"cycle_error": self.cycle_error}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Prediction:
        _require_object(data, where)
        return cls(
            run_id=_text(data, "run_id", where),
            xy=_point(data.get("xy"), f"{where}.xy"),
            confidence=_optional_number(data.get("confidence"), f"{where}.confidence"),
            heatmap=_optional_text(data, "heatmap", where),
            cycle_error=_optional_number(data.get("cycle_error"), f"{where}.cycle_error"),
        )


@dataclass(frozen=True)
class Keypoint:
    """A numbered source point and its target: the one point record of exports, session files and
    the app. Values are frozen: a change makes a new value (the app's undo history keeps "before"
    and "after" without copying, and its views skip points that are the same object).

    Attributes:
        id: stable number within its pair, 0-based in files (users see :attr:`number`).
        src_xy: source pixels.
        trg_xy: the target the annotation stands for: the primary prediction while ``status`` is
            "predicted", the user's point once "corrected"; None until something placed it.
        label: free name (e.g. the SPair-71k keypoint id).
        visibility: COCO flag, see :data:`VISIBILITY_NAMES`.
        status: one of :data:`STATUSES`.
        predictions: the latest prediction of each run, in the order runs first answered.
        updated_at: when the point last changed (UTC, ISO 8601); not part of equality.
    """

    id: int
    src_xy: Point
    trg_xy: Point | None = None
    label: str = ""
    visibility: int = 2
    status: str = "predicted"
    predictions: tuple[Prediction, ...] = ()
    updated_at: str = field(default_factory=now_utc, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.predictions, tuple):  # a list from a caller: frozen values hold tuples
            object.__setattr__(self, "predictions", tuple(self.predictions))

    @property
    def number(self) -> int:
        """The number users see (1-based)."""
        return self.id + 1

    @property
    def approved(self) -> bool:
        """A human vouched for ``trg_xy``."""
        return self.status in APPROVED_STATUSES

    def prediction(self, run_id: str) -> Prediction | None:
        return next((p for p in self.predictions if p.run_id == run_id), None)

    def changed(self, **changes: Any) -> Keypoint:
        """A copy with ``changes`` (fields), stamped now."""
        return dataclasses.replace(self, **changes, updated_at=now_utc())

    def with_prediction(self, record: Prediction, primary: bool) -> Keypoint:
        """Store ``record`` (replacing that run's older one); a primary prediction also moves an
        unapproved target, because "predicted" means "whatever the current settings say". Returns
        this same value when nothing changes."""
        if self.prediction(record.run_id) is None:
            predictions = (*self.predictions, record)
        else:  # in its place: the order stays that of the runs' first answers
            predictions = tuple(record if p.run_id == record.run_id else p for p in self.predictions)
        trg_xy = record.xy if primary and self.status == "predicted" else self.trg_xy
        if predictions == self.predictions and trg_xy == self.trg_xy:
            return self
        return self.changed(predictions=predictions, trg_xy=trg_xy)

    def moved_source(self, src_xy: Point) -> Keypoint:
        """A new source position invalidates every prediction and the old target."""
        return self.changed(src_xy=src_xy, trg_xy=None, status="predicted", predictions=())

    def corrected(self, trg_xy: Point) -> Keypoint:
        return self.changed(trg_xy=trg_xy, status="corrected")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "visibility": self.visibility,
            "src_xy": list(self.src_xy),
            "trg_xy": list(self.trg_xy) if self.trg_xy is not None else None,
            "status": self.status,
            "predictions": [p.to_dict() for p in self.predictions],
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Keypoint:
        _require_object(data, where)
        status = data.get("status", "predicted")
        if status not in STATUSES:
            raise DocumentError(f"{where}.status is '{status}'; expected one of {', '.join(STATUSES)}")
        visibility = data.get("visibility", 2)
        if visibility not in VISIBILITIES:
            raise DocumentError(f"{where}.visibility is {reprlib.repr(visibility)}; expected 0, 1 or 2")
        trg = data.get("trg_xy")
        return cls(
            id=_integer(data, "id", where),
            label=str(data.get("label") or ""),
            visibility=int(visibility),
            src_xy=_point(data.get("src_xy"), f"{where}.src_xy"),
            trg_xy=_point(trg, f"{where}.trg_xy") if trg is not None else None,
            status=status,
            predictions=tuple(
                Prediction.from_dict(p, f"{where}.predictions[{i}]")
                for i, p in enumerate(_list(data, "predictions", where))
            ),
            updated_at=str(data.get("updated_at") or now_utc()),
        )


@dataclass
class ImageRef:
    """An image of a pair. ``path`` is absolute in memory, relative to the JSON file on disk."""

    path: Path
    width: int
    height: int
    sha256: str | None = None
    bbox_xyxy: tuple[float, float, float, float] | None = None

    def to_dict(self, base: Path) -> dict[str, Any]:
        return {
            "path": relative_path(self.path, base),
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "bbox_xyxy": list(self.bbox_xyxy) if self.bbox_xyxy is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path, where: str) -> ImageRef:
        bbox = data.get("bbox_xyxy")
        if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_is_finite, bbox))):
            raise DocumentError(
                f"{where}.bbox_xyxy must be [x1, y1, x2, y2] with finite numbers or null, got {reprlib.repr(bbox)}"
            )
        path = Path(_text(data, "path", where))
        return cls(
            path=path if path.is_absolute() else Path(os.path.normpath(base / path)),
            width=_integer(data, "width", where, minimum=1),
            height=_integer(data, "height", where, minimum=1),
            sha256=_optional_text(data, "sha256", where),
            bbox_xyxy=tuple(float(v) for v in bbox) if bbox is not None else None,  # type: ignore[arg-type]
        )


@dataclass
class PairRecord:
    """One image pair with its keypoints."""

    pair_id: str
    source: ImageRef
    target: ImageRef
    category: str | None = None
    keypoints: list[Keypoint] = field(default_factory=list)

    def to_dict(self, base: Path) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id,
            "category": self.category,
            "source": self.source.to_dict(base),
            "target": self.target.to_dict(base),
            "keypoints": [k.to_dict() for k in self.keypoints],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path, where: str) -> PairRecord:
        _require_object(data, where)
        keypoints = [
            Keypoint.from_dict(k, f"{where}.keypoints[{i}]") for i, k in enumerate(_list(data, "keypoints", where))
        ]
        ids = [k.id for k in keypoints]
        if len(set(ids)) != len(ids):
            raise DocumentError(f"{where}.keypoints has repeated ids")
        return cls(
            pair_id=_text(data, "pair_id", where),
            category=_optional_text(data, "category", where),
            source=ImageRef.from_dict(_object(data, "source", where), base, f"{where}.source"),
            target=ImageRef.from_dict(_object(data, "target", where), base, f"{where}.target"),
            keypoints=keypoints,
        )


@dataclass
class Run:
    """What produced predictions: backend, model, features, prompt and matching settings."""

    run_id: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.details}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Run:
        _require_object(data, where)
        return cls(run_id=_text(data, "run_id", where), details={k: v for k, v in data.items() if k != "run_id"})


@dataclass
class CorrespondenceDocument:
    """A whole ``sd-correspondence`` file."""

    runs: list[Run] = field(default_factory=list)
    pairs: list[PairRecord] = field(default_factory=list)
    created_at: str = field(default_factory=now_utc)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, base: Path) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "app": {"name": "sd4match", "version": __version__},
            "coordinates": COORDINATES,
            "runs": [r.to_dict() for r in self.runs],
            "pairs": [p.to_dict(base) for p in self.pairs],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any, base: Path) -> CorrespondenceDocument:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise DocumentError(f'not an {SCHEMA} file (missing "schema": "{SCHEMA}")')
        version = str(data.get("schema_version", ""))
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise DocumentError(
                f"schema version {version or '?'} is not supported "
                f"(this reader handles {SCHEMA_VERSION.split('.')[0]}.x)"
            )
        runs = [Run.from_dict(r, f"runs[{i}]") for i, r in enumerate(_list(data, "runs", "document"))]
        pairs = [PairRecord.from_dict(p, base, f"pairs[{i}]") for i, p in enumerate(_list(data, "pairs", "document"))]
        known = {"schema", "schema_version", "created_at", "app", "coordinates", "runs", "pairs"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(runs=runs, pairs=pairs, created_at=str(data.get("created_at") or now_utc()), extra=extra)

    def save(self, path: str | Path) -> None:
        """Write atomically; image paths become relative to the file's folder (a symlink's target's).

        Raises:
            DocumentError: a number in the document is NaN or infinite (JSON has no such values,
                and :meth:`load` would refuse the file); nothing is written.
        """
        path = Path(path)
        data = self.to_dict(path.resolve().parent)
        require_finite(data, "document")
        atomic.write_json(path, data)

    @classmethod
    def load(cls, path: str | Path) -> CorrespondenceDocument:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"cannot read '{path}': {exc}") from exc
        except ValueError as exc:  # JSONDecodeError, or an integer of over 4,300 digits
            raise DocumentError(f"'{path}' is not valid JSON: {exc}") from exc
        except RecursionError:
            raise DocumentError(f"'{path}' nests JSON too deeply to be an {SCHEMA} file") from None
        try:
            return cls.from_dict(data, path.resolve().parent)
        except DocumentError as exc:
            raise DocumentError(f"'{path}': {exc}") from exc


# ---- field readers with messages that point at the offending field ----


def require_finite(data: Any, where: str) -> None:
    """Refuse NaN and infinity anywhere in a JSON-ready tree, naming the first such field.

    ``json.dumps`` would write them as ``NaN``/``Infinity``, which is not JSON: strict readers,
    this module's among them, refuse the file.
    """
    if isinstance(data, float) and not math.isfinite(data):
        raise DocumentError(f"{where} is {data}; only finite numbers can be written")
    if isinstance(data, dict):
        for key, value in data.items():
            require_finite(value, f"{where}.{key}")
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            require_finite(value, f"{where}[{index}]")


def relative_path(path: Path, base: Path) -> str:
    """``path`` relative to the folder ``base``, with ``/`` separators (absolute across drives)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).resolve().as_posix()


def _require_object(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise DocumentError(f"{where} must be an object, got {type(value).__name__}")


def _object(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise DocumentError(f"{where}.{key} must be an object")
    return value


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise DocumentError(f"{where}.{key} must be a list")
    return value


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise DocumentError(f"{where}.{key} must be a non-empty string")
    return value


def _optional_text(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DocumentError(f"{where}.{key} must be a string or null, got {reprlib.repr(value)}")
    return value


def _integer(data: dict[str, Any], key: str, where: str, minimum: int | None = None) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        at_least = f" >= {minimum}" if minimum is not None else ""
        raise DocumentError(f"{where}.{key} must be an integer{at_least}, got {reprlib.repr(value)}")
    return value


def is_finite_number(value: Any) -> bool:
    """A JSON number that is a finite float: not a bool, NaN, infinity, nor an integer too large
    for a float (``10**400``, whose ``math.isfinite`` raises OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


_is_finite = is_finite_number


def _point(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(map(_is_finite, value)):
        raise DocumentError(f"{where} must be [x, y] with finite numbers, got {reprlib.repr(value)}")
    return float(value[0]), float(value[1])


def _optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not _is_finite(value):
        raise DocumentError(f"{where} must be a finite number or null")
    return float(value)
