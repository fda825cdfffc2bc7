"""Reading the files of dataset releases, with errors that name the file at fault."""

from __future__ import annotations

import csv
import json
import reprlib
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..errors import DocumentError
from ..export.document import is_finite_number

EXIF_ORIENTATION = 0x0112
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def dataset_folder(root: str | Path, marker: str, release_name: str, dataset: str) -> Path:
    """The folder holding ``marker``: ``root`` itself, or ``root/release_name`` when given its parent.

    Raises :class:`DocumentError` saying what was looked for when neither exists.
    """
    root = Path(root).expanduser()
    for candidate in (root, root / release_name):
        if (candidate / marker).exists():
            return candidate
    if not root.exists():
        raise DocumentError(f"{dataset} folder '{root}' does not exist")
    raise DocumentError(f"'{root}' is not a {dataset} folder: '{marker}' not found in it or in '{release_name}/'")


def split_file(path: Path, dataset: str, split: str, splits: tuple[str, ...]) -> Path:
    """``path`` if it exists, else :class:`DocumentError` naming the split, the file and the known splits."""
    if not path.is_file():
        raise DocumentError(f"{dataset} has no split '{split}': '{path}' is missing (splits: {', '.join(splits)})")
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DocumentError(f"annotation file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read '{path}': {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4,300 digits
        raise DocumentError(f"'{path}' is not valid JSON: {exc}") from exc
    except RecursionError:
        raise DocumentError(f"'{path}' nests JSON too deeply to be an annotation file") from None


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a comma-separated file (blank lines skipped)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise DocumentError(f"pair list '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DocumentError(f"cannot read '{path}': {exc}") from exc
    if not rows:
        raise DocumentError(f"pair list '{path}' is empty")
    return [cell.strip() for cell in rows[0]], rows[1:]


def require_files(paths: list[Path], listed_in: Path) -> None:
    """Fail early, naming the list, when an image it refers to is missing."""
    for path in dict.fromkeys(paths):
        if not path.is_file():
            raise DocumentError(f"image '{path}' listed in '{listed_in}' does not exist")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) after EXIF orientation, read from the header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION)
    except FileNotFoundError:
        raise DocumentError(f"image '{path}' does not exist") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise DocumentError(f"cannot read the size of image '{path}': {exc}") from exc
    return (height, width) if orientation in TRANSPOSING_ORIENTATIONS else (width, height)


def number_list(value: Any, where: str, length: int | None = None) -> list[float]:
    """A flat list of numbers (``length`` of them if given), or :class:`DocumentError` naming ``where``."""
    if not isinstance(value, list) or not all(map(is_finite_number, value)):
        raise DocumentError(f"{where} must be a list of finite numbers, got {reprlib.repr(value)}")
    if length is not None and len(value) != length:
        raise DocumentError(f"{where} must have {length} numbers, got {len(value)}")
    return [float(v) for v in value]
