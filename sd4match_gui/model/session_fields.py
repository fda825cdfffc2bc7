"""Reading the ``"session"`` part of a session file, refusing every malformed field by name.

A hand-edited or damaged file must fail to open with one :class:`DocumentError` that says which
field is wrong, never later inside a Qt slot (a string where the opacity belongs would reach a
slider). The same reader checks what the app is about to write (see ``session_file``), so the
app never writes a file it would refuse to open.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DocumentError, EngineError
from engine.export.document import is_finite_number

from .datasets import DATASET_SPLITS, DatasetRef
from .pairs import GroundTruth, PairEntry
from .settings import COLOUR_MAPS, SessionSettings

SESSION_VERSION = 1
# Field -> allowed JSON types of the settings parts that SessionSettings reads without checking.
# (features and localisation are checked by the engine's own settings classes.)
OPTIONAL_TEXT = (str, type(None))
SETTINGS_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "prompt": {"variant": (str,), "text": (str,), "category": OPTIONAL_TEXT, "prompt_set": (str,)}
    | {"prompt_file": OPTIONAL_TEXT},
    "compare": {"variants": (str,), "disabled": (list,), "active": (bool,), "tuned": (list,)},
    "display": {"colormap": (str,), "opacity": (int, float), "heatmap_visible": (bool,), "lines_visible": (bool,)}
    | {"hover_preview": (bool,)},
}
TUNED_FIELDS = {"variant": (str,), "prompt_set": (str,), "category": OPTIONAL_TEXT}


@dataclass(frozen=True)
class SessionPart:
    """The ``"session"`` part, read: the pair list is either ``pairs`` or ``dataset``."""

    settings: SessionSettings
    current_index: int
    selected: int | None
    pairs: list[PairEntry]
    dataset: DatasetRef | None


def read_session_part(data: Any, base: Path) -> SessionPart:
    """Check and read the ``"session"`` object; paths are relative to the folder ``base``."""
    where = "session"
    if not isinstance(data, dict) or data.get("version") != SESSION_VERSION:
        raise DocumentError(f"unsupported session data (expected an object with version {SESSION_VERSION})")
    index = data.get("current_index", 0)
    if not _is_integer(index):
        raise DocumentError(f"{where}.current_index must be an integer, got {reprlib.repr(index)}")
    selected = data.get("selected")
    if selected is not None and not _is_integer(selected):
        raise DocumentError(f"{where}.selected must be a point id (integer) or null, got {reprlib.repr(selected)}")
    settings = read_settings(data.get("settings", {}), f"{where}.settings")
    if "dataset" in data:
        return SessionPart(settings, index, selected, [], _dataset(data["dataset"], base, f"{where}.dataset"))
    pairs = data.get("pairs", [])
    if not isinstance(pairs, list):
        raise DocumentError(f"{where}.pairs must be a list, got {type(pairs).__name__}")
    entries = [_pair(item, base, f"{where}.pairs[{i}]") for i, item in enumerate(pairs)]
    return SessionPart(settings, index, selected, entries, None)


def read_settings(data: Any, where: str) -> SessionSettings:
    """:class:`SessionSettings` from JSON, every field's type and range checked first."""
    _require_object(data, where)
    for part, types in SETTINGS_FIELDS.items():
        if part in data:
            _check_fields(_require_object(data[part], f"{where}.{part}"), types, f"{where}.{part}")
    compare, display = data.get("compare", {}), data.get("display", {})
    for i, name in enumerate(compare.get("disabled", [])):
        if not isinstance(name, str):
            raise DocumentError(f"{where}.compare.disabled[{i}] must be a variant name, got {reprlib.repr(name)}")
    for i, item in enumerate(compare.get("tuned", [])):
        _check_fields(_require_object(item, f"{where}.compare.tuned[{i}]"), TUNED_FIELDS, f"{where}.compare.tuned[{i}]")
    if display.get("colormap", COLOUR_MAPS[0]) not in COLOUR_MAPS:
        raise DocumentError(f"{where}.display.colormap must be one of {', '.join(COLOUR_MAPS)}")
    opacity = display.get("opacity", 0.0)
    if isinstance(opacity, bool) or not 0.0 <= opacity <= 1.0:
        raise DocumentError(f"{where}.display.opacity must be a number in [0, 1], got {reprlib.repr(opacity)}")
    for part in ("features", "localisation"):
        if part in data:
            _require_object(data[part], f"{where}.{part}")
    try:
        return SessionSettings.from_dict(data)
    except EngineError as exc:
        raise DocumentError(f"{where}: {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:  # an unknown key in a part, e.g. localisation
        raise DocumentError(f"{where} is malformed: {exc}") from None


def _check_fields(data: dict[str, Any], types: dict[str, tuple[type, ...]], where: str) -> None:
    for key, allowed in types.items():
        if key not in data:
            continue
        value = data[key]
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if wrong_bool or not isinstance(value, allowed) or (isinstance(value, float) and not math.isfinite(value)):
            names = " or ".join("null" if kind is type(None) else _JSON_NAMES[kind] for kind in allowed)
            raise DocumentError(f"{where}.{key} must be {names}, got {reprlib.repr(value)}")


_JSON_NAMES = {str: "a string", bool: "true/false", int: "a number", float: "a number", list: "a list"}


def _require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(f"{where} must be an object, got {reprlib.repr(value)}")
    return value


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(data: dict[str, Any], key: str, where: str, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise DocumentError(
            f"{where}.{key} must be a non-empty string{' or null' if optional else ''}, got {reprlib.repr(value)}"
        )
    return value


def _numbers(value: Any, length: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != length or not all(map(is_finite_number, value)):
        raise DocumentError(f"{where} must be a list of {length} finite numbers, got {reprlib.repr(value)}")
    return tuple(float(v) for v in value)


def _pair(data: Any, base: Path, where: str) -> PairEntry:
    _require_object(data, where)
    boxes = {key: data.get(key) for key in ("source_bbox", "target_bbox")}
    ground_truth = data.get("ground_truth", [])
    if not isinstance(ground_truth, list):
        raise DocumentError(f"{where}.ground_truth must be a list, got {reprlib.repr(ground_truth)}")
    points = []
    for i, item in enumerate(ground_truth):
        if not isinstance(item, list) or len(item) != 3:
            raise DocumentError(f"{where}.ground_truth[{i}] must be [[x, y], [x, y], label], got {reprlib.repr(item)}")
        source, target = (_numbers(xy, 2, f"{where}.ground_truth[{i}]") for xy in item[:2])
        points.append(GroundTruth(source, target, str(item[2])))  # type: ignore[arg-type]
    return PairEntry(
        pair_id=str(_text(data, "pair_id", where)),
        source=(base / str(_text(data, "source", where))).resolve(),
        target=(base / str(_text(data, "target", where))).resolve(),
        category=_text(data, "category", where, optional=True),
        source_bbox=_numbers(boxes["source_bbox"], 4, f"{where}.source_bbox") if boxes["source_bbox"] else None,  # type: ignore[arg-type]
        target_bbox=_numbers(boxes["target_bbox"], 4, f"{where}.target_bbox") if boxes["target_bbox"] else None,  # type: ignore[arg-type]
        ground_truth=tuple(points),
    )


def _dataset(data: Any, base: Path, where: str) -> DatasetRef:
    _require_object(data, where)
    kind = data.get("kind")
    if kind not in DATASET_SPLITS:
        raise DocumentError(f"{where}.kind must be one of {', '.join(DATASET_SPLITS)}, got {reprlib.repr(kind)}")
    split = data.get("split", "test")
    if split not in DATASET_SPLITS[kind]:
        raise DocumentError(
            f"{where}.split of {kind} must be one of {', '.join(DATASET_SPLITS[kind])}, got {reprlib.repr(split)}"
        )
    return DatasetRef(kind, (base / str(_text(data, "root", where))).resolve(), split)
