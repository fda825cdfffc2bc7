"""Autosave: after every action the session is written atomically, off the GUI thread.

The GUI thread builds the document (a dict) and hands it over; a writer thread checks it and
writes the newest one with ``engine.atomic`` (temp file, fsync, ``os.replace``), so a click never
waits for the disk and a crash leaves the previous complete file. The check and the text cost what
changed since the last write, not what the session holds (:mod:`.session_text`): the writer
shares the interpreter lock with the window. If saves pile up only the newest is written: a crash
loses at most the last action. A failed write is reported (the window shows it) and the thread
keeps writing the next document.

Untitled sessions autosave into ``data_home()/recovery/``. A recovery file stays when the user
opens something else (the window says where it went) or the app ends without a save; the next
start offers every one of them (:func:`recovery_files`, newest first) to reopen or discard. A
file is removed once its session is saved under a name, or when it holds no points.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import atomic
from engine.paths import data_home

from .session_text import Check, SessionText


def recovery_folder() -> Path:
    return data_home() / "recovery"


def new_recovery_path() -> Path:
    """A fresh recovery file name (one per untitled session)."""
    return recovery_folder() / f"untitled-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6}.json"


@dataclass(frozen=True)
class RecoveryFile:
    """What a recovery file holds, read without opening its images.

    Attributes:
        path: the file.
        modified: its last write (seconds since the epoch).
        pair: the pair that was open (a benchmark's "kind split" when it was a dataset), or "".
        pairs: pairs in the session.
        points: points placed over all of its pairs.
        readable: False when the file is not a session this app can read (still listed, to discard).
    """

    path: Path
    modified: float
    pair: str = ""
    pairs: int = 0
    points: int = 0
    readable: bool = True

    def describe(self) -> str:
        """One line: when, which pair, how many points."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        if not self.readable:
            return f"{when} · unreadable ({self.path.name})"
        others = f" and {self.pairs - 1} other pair(s)" if self.pairs > 1 else ""
        return f"{when} · {self.pair or 'no pair'}{others} · {self.points} point(s)"


def read_recovery(path: Path) -> RecoveryFile:
    """Summarise a recovery file (an ``sd-correspondence`` session document)."""
    modified = path.stat().st_mtime
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        annotated = data["pairs"]
        points = sum(len(pair["keypoints"]) for pair in annotated)
        session = data.get("session") or {}
        listed = session.get("pairs") or []
        index = session.get("current_index", 0)
        if "dataset" in session:
            pair, count = f"{session['dataset']['kind']} {session['dataset']['split']}", len(annotated)
        elif listed:
            pair, count = str(listed[min(max(index, 0), len(listed) - 1)]["pair_id"]), len(listed)
        else:
            pair, count = (str(annotated[0]["pair_id"]) if annotated else ""), len(annotated)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return RecoveryFile(path, modified, readable=False)
    return RecoveryFile(path, modified, pair, count, points)


def recovery_files(exclude: Path | None = None) -> list[RecoveryFile]:
    """Every recovery file that holds points (or cannot be read), but ``exclude`` (the window's
    own), newest first."""
    found = []
    for path in recovery_folder().glob("untitled-*.json"):
        if path != exclude:
            try:
                recovery = read_recovery(path)
            except OSError:  # removed meanwhile (another window discarded it)
                continue
            if recovery.points or not recovery.readable:
                found.append(recovery)
    return sorted(found, key=lambda f: f.modified, reverse=True)


class AutosaveWriter:
    """A daemon thread that writes the newest ``(path, json dict)`` handed to :meth:`submit`.

    Args:
        written: called on the writer thread after every attempt with the error message, or None
            when the file was written; the window shows failures through it.
        check: raises EngineError for data that must not be written (a session its loader would
            refuse); run here, off the GUI thread, on the keypoints that changed since the last
            write and on the rest of the document (see :class:`~.session_text.SessionText`).
    """

    def __init__(self, written: Callable[[str | None], None] | None = None, check: Check | None = None) -> None:
        self._text = SessionText(check)
        self._pending: tuple[Path, dict[str, Any]] | None = None
        self._condition = threading.Condition()
        self._busy = False
        self._closed = False
        self._written = written
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="sd4match-autosave", daemon=True)
        self._thread.start()

    def submit(self, path: Path, data: dict[str, Any]) -> None:
        with self._condition:
            self._pending = (path, data)
            self._condition.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted is on disk; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending is not None or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def close(self) -> None:
        self.flush()
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._closed:
                    self._condition.wait()
                if self._pending is None:
                    return
                (path, data), self._pending = self._pending, None
                self._busy = True
            try:
                self._write(path, data)
            finally:  # whatever happened, flush() must not wait for this write any more
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        """One attempt; any failure (a full disk, a value JSON cannot hold) is reported, and the
        thread lives on to write the next document."""
        try:
            atomic.write_text(path, self._text(path, data))
            self.last_error = None
        except Exception as exc:  # not only OSError: no failure may end autosaving
            self.last_error = f"autosave to '{path}' failed: {exc}"
            print(self.last_error, file=sys.stderr)
        if self._written is not None:
            self._written(self.last_error)
