"""Autosave: after every action the session is written atomically, off the GUI thread.

The GUI thread builds the document (a small dict, microseconds) and hands it over; a writer
thread writes the newest one with ``engine.atomic`` (temp file, fsync, ``os.replace``), so a click
never waits for the disk and a crash leaves the previous complete file. If saves pile up only the
newest is written: a crash loses at most the last action. A failed write is reported (the window
shows it) and the thread keeps writing the next document.

Untitled sessions autosave into ``data_home()/recovery/``; the app offers the newest recovery
file on the next start and removes it once the session is saved under a name or closed cleanly.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import atomic
from engine.paths import data_home


def recovery_folder() -> Path:
    return data_home() / "recovery"


def new_recovery_path() -> Path:
    """A fresh recovery file name (one per untitled session)."""
    return recovery_folder() / f"untitled-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6}.json"


def latest_recovery() -> Path | None:
    files = sorted(recovery_folder().glob("untitled-*.json"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


class AutosaveWriter:
    """A daemon thread that writes the newest ``(path, json dict)`` handed to :meth:`submit`.

    Args:
        written: called on the writer thread after every attempt with the error message, or None
            when the file was written; the window shows failures through it.
    """

    def __init__(self, written: Callable[[str | None], None] | None = None) -> None:
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
            atomic.write_json(path, data)
            self.last_error = None
        except Exception as exc:  # not only OSError: no failure may end autosaving
            self.last_error = f"autosave to '{path}' failed: {exc}"
            print(self.last_error, file=sys.stderr)
        if self._written is not None:
            self._written(self.last_error)
