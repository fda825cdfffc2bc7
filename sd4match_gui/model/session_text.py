"""A session file's document and text, checked before it is written, at the cost of what changed.

The app writes its session after every action, so that write must not cost more with more
points. Three parts of it did: building every keypoint's dict (about 6 ms per thousand points, on
the GUI thread), running the loader's readers over the whole document (about 14 ms) and
``json.dumps`` with an indent, which Python does in pure Python (about 25 ms), the last two on the
writer thread but holding the interpreter lock that the window and the engine thread need.

:class:`SessionDocuments` (GUI thread) reuses the dict of every point that is the same object as
at the last build (points are immutable values), and of every pair whose images stay.
:class:`SessionText` (writer thread) reuses the line of JSON of every keypoint dict it wrote
before, runs the readers on the document with only the keypoints it has not passed before (a
keypoint is known by its dict, or else by its whole text, so any change is read again), and lays
the file out as indented JSON with one keypoint per line.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import EngineError, NumericError
from engine.export.document import Keypoint, relative_path

from .list_memo import ListMemo
from .session import Session
from .session_file import session_document

KEYPOINTS = "keypoints"
RESOLVED_PATHS = 4096  # image paths a session's saves remember resolved (a dataset split has thousands)

# Raises EngineError for a document the loader would refuse (``session_file.check_session_data``).
Check = Callable[[Path, dict[str, Any]], None]


def pretty(data: Any) -> str:
    """``data`` as ``engine.atomic.write_json`` writes it; NaN or infinity raise NumericError."""
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as exc:
        raise NumericError(f"refusing to write: {exc}") from None


def _line(keypoint: Any) -> str | None:
    """One keypoint as one line of JSON; None when it holds NaN or infinity (never written)."""
    try:
        return json.dumps(keypoint, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return None


def _is_document(data: dict[str, Any]) -> bool:
    """Whether ``data`` has the shape whose keypoints can be told apart (else it is checked whole)."""
    pairs = data.get("pairs")
    return isinstance(pairs, list) and all(
        isinstance(pair, dict) and isinstance(pair.get(KEYPOINTS), list) for pair in pairs
    )


def _repeated_ids(keypoints: list[Any]) -> bool:
    ids = [keypoint.get("id") for keypoint in keypoints]
    return len(set(ids)) != len(ids)


class SessionDocuments:
    """Builds the JSON document of a session file; call it on the GUI thread (it reads the session).

    What did not change since the previous build is that build's: the dicts of unchanged points
    (the writer knows them by identity; they are never changed afterwards, the writer thread reads
    them), each pair's dict while its images and category stay, and every path written relative
    to the file (resolved once, not at each save: a link changed under an open session is seen
    at the next start).
    """

    def __init__(self) -> None:
        self._keypoints: dict[str, ListMemo] = {}  # pair id -> its points' dicts
        self._pairs: dict[str, tuple[tuple[object, ...], dict[str, Any]]] = {}  # pair id -> (inputs, dict)
        self._relative = functools.lru_cache(maxsize=RESOLVED_PATHS)(relative_path)
        self._folder = functools.lru_cache(maxsize=RESOLVED_PATHS)(_resolved_folder)

    def __call__(self, session: Session, path: Path) -> dict[str, Any]:
        """The document a session file at ``path`` holds (``session_file.session_document``)."""
        base = self._folder(path)
        document = session_document(session, path, self._relative, base)
        records, document.pairs = document.pairs, []
        data = document.to_dict(base)
        keypoints, pairs = {}, {}
        for record in records:
            inputs = (record.source, record.target, record.category, base)
            made = self._pairs.get(record.pair_id)
            if made is None or made[0] != inputs:
                made = (inputs, dataclasses.replace(record, keypoints=[]).to_dict(base))
            pairs[record.pair_id] = made
            memo = keypoints[record.pair_id] = self._keypoints.get(record.pair_id) or ListMemo()
            data["pairs"].append({**made[1], KEYPOINTS: memo.map(record.keypoints, True, Keypoint.to_dict)})
        self._keypoints, self._pairs = keypoints, pairs
        return data


def _resolved_folder(path: Path) -> Path:
    return path.resolve().parent


class SessionText:
    """Checks session documents with ``check`` and returns the text of their file.

    Attributes:
        keypoints_read: how many keypoints the last call passed to ``check`` (for tests).
    """

    def __init__(self, check: Check | None) -> None:
        self._check = check
        # Of the last document that passed the check: id(keypoint dict) -> (dict, its line), and the lines.
        self._passed: dict[int, tuple[Any, str | None]] = {}
        self._known: set[str] = set()
        self.keypoints_read = 0

    def __call__(self, path: Path, data: dict[str, Any]) -> str:
        """The file's text (UTF-8, a trailing newline).

        Raises:
            EngineError: ``check`` refused the document (naming the field at fault), or it holds
                NaN or infinity (NumericError); nothing is to be written.
        """
        if self._check is None or not _is_document(data):
            if self._check is not None:
                self._check(path, data)
            return pretty(data)
        lines = [[self._line(keypoint) for keypoint in pair[KEYPOINTS]] for pair in data["pairs"]]
        new = [
            [keypoint for keypoint, line in zip(pair[KEYPOINTS], texts, strict=True) if line not in self._known]
            for pair, texts in zip(data["pairs"], lines, strict=True)
        ]
        self.keypoints_read = sum(map(len, new))
        try:
            unread = [{**pair, KEYPOINTS: keypoints} for pair, keypoints in zip(data["pairs"], new, strict=True)]
            self._check(path, {**data, "pairs": unread})
            if any(_repeated_ids(pair[KEYPOINTS]) for pair in data["pairs"]):  # the one rule across keypoints
                raise EngineError("repeated keypoint ids")
        except EngineError:
            self.keypoints_read = sum(len(pair[KEYPOINTS]) for pair in data["pairs"])
            self._check(path, data)  # the whole document: the message names the field by its real place
            raise
        self._passed = {
            id(keypoint): (keypoint, line)
            for pair, texts in zip(data["pairs"], lines, strict=True)
            for keypoint, line in zip(pair[KEYPOINTS], texts, strict=True)
        }
        self._known = {line for texts in lines for line in texts if line is not None}
        return _layout(data, lines)

    def _line(self, keypoint: Any) -> str | None:
        passed = self._passed.get(id(keypoint))
        return passed[1] if passed is not None and passed[0] is keypoint else _line(keypoint)


def _layout(data: dict[str, Any], lines: list[list[str | None]]) -> str:
    """``data`` indented as :func:`pretty` does, but each pair's keypoints one per line."""
    if any(line is None for texts in lines for line in texts):
        raise NumericError("refusing to write: a keypoint holds NaN or infinity")
    token = secrets.token_hex(8)  # a placeholder no value of the document holds
    skeleton = {**data, "pairs": [{**pair, KEYPOINTS: f"{token}-{i}"} for i, pair in enumerate(data["pairs"])]}
    text = pretty(skeleton)

    def keypoints(match: re.Match[str]) -> str:
        texts = lines[int(match[1])]
        if not texts:
            return "[]"
        indent = re.match(r" *", text[text.rfind("\n", 0, match.start()) + 1 :])[0]
        return "[\n" + ",\n".join(f"{indent}  {line}" for line in texts) + f"\n{indent}]"

    return re.sub(f'"{token}-([0-9]+)"', keypoints, text)
