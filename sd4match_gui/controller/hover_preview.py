"""Live preview: while the cursor is over the source image, each target view shows where that pixel
would land and its heatmap (the pytorch-dense-correspondence live-heatmap experience).

Mouse moves arrive at 60-120 Hz; a throttle sends the first move at once and then at most one
preview every ``THROTTLE_MS`` (the newest position), and the worker's one-slot mailbox drops any
that pile up behind a feature extraction. Previews read features the last computation prepared
and never start one, so hovering costs milliseconds, and nothing before the pair's features exist. Answers to an older
preview, or arriving after the cursor left, are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.frames import GridFrame

from ..model.app_model import AppModel
from ..model.settings import SessionSettings
from ..views.pair_canvas import SOURCE
from ..worker.engine_client import EngineClient
from ..worker.messages import PreviewAnswer, PreviewRequest
from .computation import ComputationController

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

    Args:
        client: the engine thread.
        model: the app model (the open pair, its images, the display settings).
        computation: whether the engine is computing a request (its answer to a preview would wait
            for the end of an extraction, so a moved cursor hides the old preview meanwhile).

    Signals:
        changed(): ``previews`` changed (redraw the targets' heatmaps and preview points).

    Attributes:
        previews: variant name -> its preview of the hovered pixel (empty when not hovering).
        sent: previews submitted to the worker (after throttling), for tests.
    """

    changed = Signal()

    def __init__(self, client: EngineClient, model: AppModel, computation: ComputationController) -> None:
        super().__init__()
        self._client = client
        self._model = model
        self._computation = computation
        self.previews: dict[str, Preview] = {}
        self.sent = 0
        self._latest_id = 0
        self._pending: tuple[float, float] | None = None
        self._hovered: tuple[float, float] | None = None
        self._last_request: tuple[object, ...] | None = None  # what the newest request asked, bar the point
        self._timer = QTimer(self)  # the cool-down after a send; its end sends what arrived meanwhile
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._send)
        client.worker.preview.connect(self._on_answer)
        model.settings_changed.connect(self._on_settings_changed)
        model.images_changed.connect(self._on_images_changed)

    @property
    def cooling_down(self) -> bool:
        """A preview went out less than ``THROTTLE_MS`` ago: the next move waits for the cool-down."""
        return self._timer.isActive()

    @Slot(int, float, float)
    def cursor_moved(self, panel: int, x: float, y: float) -> None:
        images = self._model.images
        on_source = panel == SOURCE and images is not None
        if not on_source or not (-0.5 <= x <= images[0].width - 0.5 and -0.5 <= y <= images[0].height - 0.5):
            self.clear()
            return
        if not self._model.session.settings.display.hover_preview:
            return
        if self.previews and not self._computation.idle:
            self._show({})  # the answer waits for an extraction: do not leave the old one standing
        self._pending = (x, y)
        if not self._timer.isActive():
            self._send()

    @Slot()
    def clear(self) -> None:
        """The cursor left the source: forget the preview and drop answers still on their way."""
        self._timer.stop()
        self._pending = self._hovered = self._last_request = None
        self._latest_id += 1
        self._show({})

    def refresh(self) -> None:
        """Ask again for the hovered pixel if the settings changed or a variant had no features;
        the shown preview stays until the new answer replaces it, so nothing flickers."""
        if self._hovered is None or self._pending is not None:
            return
        active = {variant.name for variant in self._model.session.settings.active_variants()}
        if self._request_context() != self._last_request or not active <= set(self.previews):
            self._pending = self._hovered
            if not self._timer.isActive():
                self._send()

    def _request_context(self) -> tuple[object, ...] | None:
        session, images = self._model.session, self._model.images
        if images is None or session.pair is None:
            return None
        settings, engine = session.settings, self._model.preferences.engine_config()
        return (images[0].digest, images[1].digest, tuple(settings.active_variants()), settings.localisation, engine)

    def _send(self) -> None:
        context = self._request_context()
        if self._pending is None or context is None:
            return
        if not self._model.session.settings.display.hover_preview:
            self.clear()
            return
        source_digest, target_digest, variants, localisation, engine = context
        self._hovered, self._pending, self._last_request = self._pending, None, context
        self._latest_id += 1
        request = PreviewRequest(
            self._latest_id, source_digest, target_digest, variants, localisation, self._hovered, engine
        )
        self._client.preview(request)
        self.sent += 1
        self._timer.start()

    @Slot(object)
    def _on_answer(self, answer: PreviewAnswer) -> None:
        if answer.preview_id != self._latest_id or self._hovered is None:
            return  # an older position, or the cursor has left
        source_xy = self._hovered
        self._show(
            {
                name: Preview(source_xy, variant.xy, variant.confidence, variant.heatmap, variant.frame)
                for name, variant in answer.variants.items()
            }
        )

    def _on_images_changed(self, _images: object) -> None:
        self.clear()  # previews of the other pair's images

    def _on_settings_changed(self, old: SessionSettings, new: SessionSettings) -> None:
        if old.display.hover_preview and not new.display.hover_preview:
            self.clear()

    def _show(self, previews: dict[str, Preview]) -> None:
        if previews or self.previews:
            self.previews = previews
            self.changed.emit()
