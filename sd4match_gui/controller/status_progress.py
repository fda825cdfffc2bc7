"""The status bar's two progress indicators: the engine's work on the open pair, and files being read.

The engine's progress is model state (``AppModel.results.progress``, announced as
``results.progress_changed``); this view only renders it. It shows only once work has taken a
moment: a cached click also reports progress, and flashing a progress bar at every click would
cost a relayout each time. Reads of datasets and sessions have no fractions, so their bar just
moves until the read is delivered or abandoned.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..model.results import EngineProgress
from .background import BackgroundLoader
from .presenter import Presenter

PROGRESS_DELAY_MS = 150  # work that finishes sooner is not shown


class StatusProgress(QObject):
    """Renders ``model.results.progress`` in ``window.progress`` (its Cancel calls ``cancel``) and the
    loader's reads in ``window.loading``."""

    def __init__(
        self,
        window: MainWindow,
        presenter: Presenter,
        model: AppModel,
        loader: BackgroundLoader,
        cancel: Callable[[], None],
    ) -> None:
        super().__init__()
        self._window = window
        self._presenter = presenter
        self._model = model
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.timeout.connect(self._show_progress)
        model.results.progress_changed.connect(self._on_progress)
        window.progress.cancel_clicked.connect(cancel)
        loader.running.connect(self._show_loading)
        window.loading.cancel_clicked.connect(loader.abandon)

    def _on_progress(self, progress: EngineProgress | None) -> None:
        if progress is None:  # answered or cancelled
            self._delay.stop()
            self._window.progress.hide()
            self._presenter.show_variant_states(self._model.session)
        elif self._window.progress.isVisible():
            self._show_progress()
        elif not self._delay.isActive():
            self._delay.start(PROGRESS_DELAY_MS)

    def _show_progress(self) -> None:
        progress = self._model.results.progress
        if progress is None:
            return
        self._window.progress.show_stage(progress.text, progress.fraction)
        self._presenter.show_variant_states(self._model.session)

    @Slot(str)
    def _show_loading(self, description: str) -> None:
        if description:
            self._window.loading.show_busy(description.capitalize() + "…")
        else:
            self._window.loading.hide()
