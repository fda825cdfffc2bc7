"""Fetching the Stable Diffusion weights from inside the app, with progress, off the GUI thread.

The same as ``sd4match download`` (``engine.models.weights.download_weights``): only the files the
engine needs, into the Hugging Face cache. It runs on a plain thread, not the engine thread, so
the SIFT backend keeps answering clicks during a multi-gigabyte download.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from tqdm.auto import tqdm

from engine.errors import EngineError
from engine.models import weights

DOWNLOAD_SIZE = "about 5.2 GB"


def progress_bar_class(report: Callable[[str, float], None]) -> type:
    """A tqdm class that forwards ``(description, fraction)`` instead of printing."""

    class ReportingBar(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = False
            kwargs["file"] = _Discard()
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            report(self.desc or "downloading", self.n / self.total if self.total else 0.0)
            return shown

    return ReportingBar


class _Discard:
    """A file that swallows tqdm's console output."""

    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class WeightsDownload(QObject):
    """Signals (queued to the GUI thread): progress(stage, fraction), finished(error message or "")."""

    progress = Signal(str, float)
    finished = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, source: str) -> bool:
        """Fetch the SD weights of ``source`` (a hub id); False if a download is already running."""
        if self.running:
            return False
        self._thread = threading.Thread(target=self._run, args=(source,), name="sd4match-download", daemon=True)
        self._thread.start()
        return True

    def _run(self, source: str) -> None:
        """Always ends with ``finished``: the window waits for it to hide the progress and recheck."""
        report = progress_bar_class(lambda stage, fraction: self.progress.emit(f"download: {stage}", fraction))
        error = f"downloading '{source}' was interrupted"  # until it returns
        try:
            self.progress.emit("download: starting", 0.0)
            weights.download_weights(source, "sd", tqdm_class=report)
            error = ""
        except EngineError as exc:
            error = str(exc)
        except Exception as exc:  # a hub or file-system failure of any kind: reported, never a silent end
            error = f"downloading '{source}' failed: {type(exc).__name__}: {exc}"
        finally:
            self.finished.emit(error)
