"""Live preview: while the cursor is over the source image, each target view shows where that pixel
would land and its heatmap (the pytorch-dense-correspondence live-heatmap experience).

Mouse moves arrive at 60-120 Hz; a throttle sends the first move at once and then at most one
preview every ``THROTTLE_MS`` (the newest position), and the worker's one-slot mailbox drops any
that pile up behind a feature extraction. Previews read features the last computation prepared
and never start one, so hovering costs milliseconds, and nothing before the pair's features exist. Answers to an older
preview, or arriving after the cursor left, are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine import LoadedImage
from engine.frames import GridFrame

from ..model.session import Session
from ..views.pair_canvas import SOURCE
from ..worker.engine_client import EngineClient
from ..worker.messages import PreviewRequest, PreviewResult

THROTTLE_MS = 30


@dataclass(frozen=True)
class Preview:
    """One variant's preview: the hovered source pixel, its predicted target pixel, its heatmap."""

    source_xy: tuple[float, float]
    xy: tuple[float, float]
    confidence: float
    scores: np.ndarray
    frame: GridFrame


class HoverPreviewController(QObject):
    """Turns source hovers into preview requests and keeps the current answers.

    Signals:
        changed(): ``previews`` changed (redraw the targets' heatmaps and preview markers).

    Attributes:
        previews: variant name -> its preview of the hovered pixel (empty when not hovering).
        sent: previews submitted to the worker (after throttling), for tests.
    """

    changed = Signal()

    def __init__(
        self,
        client: EngineClient,
        session: Callable[[], Session],
        images: Callable[[], tuple[LoadedImage, LoadedImage] | None],
    ) -> None:
        super().__init__()
        self._client = client
        self._session = session
        self._images = images
        self.previews: dict[str, Preview] = {}
        self.sent = 0
        self._latest_id = 0
        self._shown_id = 0  # the preview whose answers ``previews`` holds (variants answer one by one)
        self._pending: tuple[float, float] | None = None
        self._hovered: tuple[float, float] | None = None
        self._timer = QTimer(self)  # the cool-down after a send; its end sends what arrived meanwhile
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._send)
        client.worker.preview.connect(self._on_preview)

    @Slot(int, float, float)
    def cursor_moved(self, panel: int, x: float, y: float) -> None:
        images = self._images()
        on_source = panel == SOURCE and images is not None
        if not on_source or not (-0.5 <= x <= images[0].width - 0.5 and -0.5 <= y <= images[0].height - 0.5):
            self.clear()
            return
        if not self._session().settings.display.hover_preview:
            return
        self._pending = (x, y)
        if not self._timer.isActive():
            self._send()

    @Slot()
    def clear(self) -> None:
        """The cursor left the source: forget the preview and drop answers still on their way."""
        self._timer.stop()
        self._pending = self._hovered = None
        self._latest_id += 1
        if self.previews:
            self.previews = {}
            self.changed.emit()

    @property
    def cooling_down(self) -> bool:
        """A preview went out less than ``THROTTLE_MS`` ago: the next move waits for the cool-down."""
        return self._timer.isActive()

    def refresh(self) -> None:
        """Preview the hovered pixel again (new features or settings since the last answer); the
        shown preview stays until the new answers replace it, so nothing flickers."""
        if self._hovered is not None and self._pending is None:
            self._pending = self._hovered
            if not self._timer.isActive():
                self._send()

    def _send(self) -> None:
        session, images = self._session(), self._images()
        if self._pending is None or images is None or session.pair is None:
            return
        if not session.settings.display.hover_preview:
            self.clear()
            return
        self._hovered, self._pending = self._pending, None
        self._latest_id += 1
        self._client.preview(
            PreviewRequest(
                preview_id=self._latest_id,
                source_digest=images[0].digest,
                target_digest=images[1].digest,
                variants=tuple(session.settings.active_variants()),
                localisation=session.settings.localisation,
                point_xy=self._hovered,
            )
        )
        self.sent += 1
        self._timer.start()

    @Slot(object)
    def _on_preview(self, result: PreviewResult) -> None:
        if result.preview_id != self._latest_id or self._hovered is None:
            return
        if result.preview_id != self._shown_id:
            self.previews, self._shown_id = {}, result.preview_id
        preview = Preview(self._hovered, result.xy, result.confidence, result.heatmap, result.frame)
        self.previews[result.variant] = preview
        self.changed.emit()
