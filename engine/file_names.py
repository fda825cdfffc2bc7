"""File names made from ids (pair ids, run ids, variant names) that may hold any character."""

from __future__ import annotations

import re

UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
# Names Windows refuses whatever the extension (CON.json cannot be created there).
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)}


def file_stem(text: str, max_length: int | None = None) -> str:
    """``text`` as a file name stem that is valid on every platform: runs of other characters than
    letters, digits and ``. _ = + -`` become ``_``; never empty, never a reserved Windows name."""
    stem = UNSAFE.sub("_", text).strip("._")[:max_length] or "_"
    return f"{stem}_" if stem.split(".")[0].upper() in WINDOWS_RESERVED else stem


def unique_stems(texts: list[str]) -> list[str]:
    """:func:`file_stem` of each text; texts that clean up to a stem already taken get ``-{position}``
    appended (1-based), so that no file overwrites another."""
    stems: list[str] = []
    for index, text in enumerate(texts):
        stem = file_stem(text)
        stems.append(f"{stem}-{index + 1}" if stem in stems else stem)
    return stems
