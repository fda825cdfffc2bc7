"""Checking output paths before any work, so that an unwritable ``--out`` fails in a second, not after an hour.

A probe file is created (and removed at once) in the folder that will receive the output, or in
its nearest existing ancestor when folders are still to be made: that is the only test that
sees read-only file systems and permissions as they are (``os.access`` says yes to root).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .. import atomic
from ..errors import OutputError


def check_output_file(path: Path, flag: str) -> None:
    """``path`` can be written as a file (a regular file, a character device or a FIFO, see
    :func:`engine.atomic.check_destination`), and its folder writable or makeable."""
    target = path.expanduser().resolve()  # a symlinked output is written through to its target
    try:
        atomic.check_destination(target)  # the same kinds of file the writer accepts (devices written in place)
    except OutputError as exc:
        raise OutputError(f"{flag}: {exc}") from None
    _check_folder(target.parent, flag, path)


def check_distinct_outputs(outputs: dict[str, Path | None]) -> None:
    """No two of ``outputs`` (flag -> path, None when not given) name the same file, which the
    later write would silently overwrite; devices and pipes (``/dev/null`` twice) are streams, fine."""
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        target = os.path.realpath(path.expanduser())
        if os.path.exists(target) and not os.path.isfile(target):
            continue
        if target in seen:
            raise OutputError(f"{seen[target]} and {flag} name the same file '{path}'; give each its own name")
        seen[target] = flag


def check_output_folder(path: Path, flag: str) -> None:
    """``path`` can hold output files: a writable folder, or one that can be made."""
    target = path.expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise OutputError(f"{flag} '{path}' is a file, not a folder")
    _check_folder(target, flag, path)


def _check_folder(folder: Path, flag: str, given: Path) -> None:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{flag} '{given}' cannot be written: '{existing}' is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"{flag} '{given}' cannot be written: no write access to '{existing}' ({reason})") from None
