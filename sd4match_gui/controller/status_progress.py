"""The status bar's two progress indicators: engine stages of the open pair, and files being read.

Engine stages show only once work has taken a moment: a cached click also passes stage boundaries,
and flashing a progress bar at every click would cost a relayout each time. Reads of datasets and
sessions have no fractions, so their bar just moves until the read is delivered or abandoned.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, QTimer, Slot

from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..worker.messages import ProgressReport
from .background import BackgroundLoader
from .computation import ComputationController
from .presenter import Presenter

PROGRESS_DELAY_MS = 150  # stages of work that finishes sooner are not shown


class StatusProgress(QObject):
    """Connects the computation's and the loader's reports to ``window.progress`` and ``window.loading``."""

    def __init__(
        self,
        window: MainWindow,
        computation: ComputationController,
        presenter: Presenter,
        model: AppModel,
        loader: BackgroundLoader,
    ) -> None:
        super().__init__()
        self._window = window
        self._computation = computation
        self._presenter = presenter
        self._model = model
        self._last: ProgressReport | None = None
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.timeout.connect(self._show_progress)
        computation.progress.connect(self._on_progress)
        computation.busy.connect(self._on_busy)
        window.progress.cancel_clicked.connect(computation.cancel)
        loader.running.connect(self._show_loading)
        window.loading.cancel_clicked.connect(loader.abandon)

    @Slot(object)
    def _on_progress(self, report: ProgressReport) -> None:
        last = self._last
        if last is not None and last.request_id == report.request_id and report.fraction < last.fraction:
            # The newer request's own pass after the extraction it waited for: the bar never goes back.
            report = dataclasses.replace(report, fraction=last.fraction)
        self._last = report
        if self._window.progress.isVisible():
            self._show_progress()
        elif not self._delay.isActive():
            self._delay.start(PROGRESS_DELAY_MS)

    def _show_progress(self) -> None:
        report = self._last
        if report is None or self._computation.idle:
            return
        self._window.progress.show_stage(report.text, report.fraction)
        self._presenter.show_variant_states(self._model.session)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if not busy:
            self._delay.stop()
            self._last = None
            self._window.progress.hide()
            self._presenter.show_variant_states(self._model.session)

    @Slot(str)
    def _show_loading(self, description: str) -> None:
        if description:
            self._window.loading.show_busy(description.capitalize() + "…")
        else:
            self._window.loading.hide()
