"""File > Export as sd-correspondence JSON with heatmaps: the JSON plus one ``.npy`` similarity map
per point and variant (docs/formats.md), for every annotated pair under the variants on screen.

A click's heatmap covers one point of the open pair; this export covers every point of every
annotated pair, so the worker extracts whatever features are missing (minutes on a CPU for many
pairs with Stable Diffusion) behind a window-modal progress dialog with Cancel: the window keeps
repainting, and the points cannot change under the computation. The exported predictions of these
runs are the fresh ones, so every map file belongs to a prediction of its own run. The session
gains nothing but the run records the export cites.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QProgressDialog

from engine.errors import EngineError
from engine.export.document import CorrespondenceDocument, Prediction, Run
from engine.export.heatmaps import write_heatmaps

from ..model.session_file import to_document
from ..worker.messages import HeatmapsOutcome, HeatmapsRequest, PairHeatmaps, PairPoints

if TYPE_CHECKING:
    from .app_controller import AppController


class HeatmapExport(QObject):
    """Runs one export with heatmaps at a time.

    Signals:
        finished(list): the files written (the JSON first), empty when cancelled or failed.

    Attributes:
        dialog: the progress dialog of the running export, else None.
    """

    finished = Signal(list)

    def __init__(self, app: AppController) -> None:
        super().__init__()
        self._app = app
        self._path: Path | None = None
        self.dialog: QProgressDialog | None = None
        app.client.worker.heatmaps_stage.connect(self._on_stage)
        app.client.worker.heatmaps_done.connect(self._on_done)

    @property
    def running(self) -> bool:
        return self._path is not None

    def start(self, path: Path) -> bool:
        """Compute every annotated pair's maps, then write ``path`` and its ``heatmaps/`` folder."""
        if self.running:
            self._app.notify("An export is already running.")
            return False
        session = self._app.session
        pairs = []
        for pair in session.pairs:
            points = session.points(pair.pair_id)
            if points and pair.source in session.images and pair.target in session.images:
                xy = np.array([p.src_xy for p in points], dtype=np.float64)
                pairs.append(PairPoints(pair.pair_id, pair.source, pair.target, tuple(p.id for p in points), xy))
        if not pairs:
            self._app.report_error("Nothing to export yet: add points to a pair first.")
            return False
        settings = session.settings
        request = HeatmapsRequest(
            pairs=tuple(pairs),
            variants=tuple(settings.active_variants()),
            localisation=settings.localisation,
            engine=self._app.preferences.engine_config(),
            refuse_fallback=settings.compare.active,
        )
        self._path = path
        self.dialog = QProgressDialog("Waiting for the engine…", "Cancel", 0, 100, self._app.window)
        self.dialog.setWindowTitle("Exporting with heatmaps")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self._app.client.stop_job)
        self.dialog.show()
        self._app.client.heatmaps(request)
        return True

    @Slot(str, float)
    def _on_stage(self, stage: str, fraction: float) -> None:
        if self.dialog is not None:
            self.dialog.setLabelText(stage)
            self.dialog.setValue(round(100 * fraction))

    @Slot(object)
    def _on_done(self, outcome: HeatmapsOutcome) -> None:
        path, self._path = self._path, None
        if path is None:
            return  # not an export of this window
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self._app.client.stop_job)  # closing it emits canceled
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        written: list[Path] = []
        if outcome.cancelled:
            self._app.notify("Export cancelled; nothing was written.")
        elif outcome.error:
            self._app.report_error(f"export failed: {outcome.error}")
        else:
            try:
                written = self._write(path, outcome.results)
            except (EngineError, OSError) as exc:
                self._app.report_error(f"export failed: {exc}")
            else:
                maps = len(written) - 1
                self._app.notify(f"Exported {path.name} with {maps} heatmap file(s) in {path.parent / 'heatmaps'}.")
        self.finished.emit(written)

    def _write(self, path: Path, results: tuple[PairHeatmaps, ...]) -> list[Path]:
        session = self._app.session
        document = to_document(session)
        records = {record.pair_id: record for record in document.pairs}
        maps: dict[str, dict[str, dict[int, np.ndarray]]] = {}  # pair id -> run id -> keypoint id -> map
        for result in results:
            record = records[result.pair_id]
            run_id = session.runs.register(result.run)
            _cite(document, run_id, result.run)
            rows = {point_id: row for row, point_id in enumerate(result.point_ids)}
            for keypoint in record.keypoints:
                row = rows[keypoint.id]
                xy = (float(result.matches.match_xy[row, 0]), float(result.matches.match_xy[row, 1]))
                fresh = Prediction(run_id, xy, round(float(result.matches.confidence[row]), 6))
                keypoint.predictions = [p for p in keypoint.predictions if p.run_id != run_id] + [fresh]
            maps.setdefault(result.pair_id, {})[run_id] = {point_id: result.maps[row] for point_id, row in rows.items()}
        files = []
        for record in document.pairs:
            files += write_heatmaps(record, maps.get(record.pair_id, {}), path)
        document.save(path)  # last: the JSON never names a file that is not there yet
        return [path, *files]


def _cite(document: CorrespondenceDocument, run_id: str, details: dict[str, Any]) -> None:
    """Add the run to the document's ``runs[]`` unless it is there already."""
    if all(run.run_id != run_id for run in document.runs):
        document.runs.append(Run(run_id, details))
