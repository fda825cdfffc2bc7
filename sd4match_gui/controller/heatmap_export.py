"""File > Export as sd-correspondence JSON with heatmaps: the JSON plus one ``.npy`` similarity map
per point and variant (docs/formats.md), for every annotated pair under the variants on screen.

A click's heatmap covers one point of the open pair; this export covers every point of every
annotated pair, so the worker extracts whatever features are missing (minutes on a CPU for many
pairs with Stable Diffusion) behind a window-modal progress dialog with Cancel. The document is a
snapshot taken when the export starts, so what is written is what was computed. The exported
predictions of these runs are the fresh ones (and a point still "predicted" takes the primary
variant's as its target), so every map file belongs to a prediction of its own run. A cancelled,
failed or superseded export writes nothing (an earlier export to the same file stays as it was);
the session gains nothing but the run records the
export cites.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from engine.export.document import CONFIDENCE_DIGITS, CorrespondenceDocument, Prediction, Run
from engine.export.heatmaps import save_with_heatmaps

from ..model.app_model import AppModel
from ..model.session import Session
from ..model.session_file import to_document
from ..worker.engine_client import EngineClient
from ..worker.messages import HeatmapsOutcome, HeatmapsRequest, PairHeatmaps, PairPoints
from .notices import Notices

JOB = "export"  # the model's job while an export holds the engine


class HeatmapExport(QObject):
    """Runs one export with heatmaps at a time (and never beside another job, such as tuning: both
    hold the engine); the model's job is :data:`JOB` meanwhile.

    Args:
        parent: the progress dialog's parent.
        model: the session exported.
        client: the engine thread.
        notices: the window's messages.

    Signals:
        finished(list): the files written (the JSON first), empty when cancelled or failed.

    Attributes:
        dialog: the progress dialog of the running export, else None.
    """

    finished = Signal(list)

    def __init__(self, parent: QWidget, model: AppModel, client: EngineClient, notices: Notices) -> None:
        super().__init__()
        self._parent = parent
        self._model = model
        self._client = client
        self._notices = notices
        self._job: _Job | None = None
        self.dialog: QProgressDialog | None = None
        client.worker.heatmaps_stage.connect(self._on_stage)
        client.worker.heatmaps_done.connect(self._on_done)

    @property
    def running(self) -> bool:
        """From :meth:`start` until the engine has answered (a cancelled job runs on to its next stage)."""
        return self._job is not None

    def start(self, path: Path) -> bool:
        """Compute every annotated pair's maps, then write ``path`` and its heatmap folder."""
        if self.running:
            self._notices.report_error("An export with heatmaps is still running; wait for it to end.")
            return False
        if self._model.job is not None:
            self._notices.report_error("A prompt is being tuned on the engine; export with heatmaps once it has ended.")
            return False
        session = self._model.session
        document = to_document(session)
        if not document.pairs:
            self._notices.report_error("Nothing to export yet: add points to a pair first.")
            return False
        pairs = tuple(
            PairPoints(
                record.pair_id,
                record.source.path,
                record.target.path,
                tuple(k.id for k in record.keypoints),
                np.array([k.src_xy for k in record.keypoints], dtype=np.float64),
            )
            for record in document.pairs
        )
        settings = session.settings
        variants = tuple(settings.active_variants())
        request = HeatmapsRequest(
            pairs=pairs,
            variants=variants,
            localisation=settings.localisation,
            engine=self._model.preferences.engine_config(),
            refuse_fallback=settings.compare.active,
        )
        self._job = _Job(path, session, document, variants[0].name)
        self._model.set_job(JOB)
        self.dialog = QProgressDialog("Waiting for the engine…", "Cancel", 0, 100, self._parent)
        self.dialog.setWindowTitle("Exporting with heatmaps")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel)
        self.dialog.show()
        self._client.heatmaps(request)
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the computation at its next stage; whatever it still answers is dropped."""
        if self._job is not None and not self._job.cancelled:
            self._job.cancelled = True
            self._client.stop_heatmaps()
            self._close_dialog()
            self._notices.notify("Cancelling the export…")

    @Slot(str, float)
    def _on_stage(self, stage: str, fraction: float) -> None:
        if self.dialog is not None:
            self.dialog.setLabelText(stage)
            self.dialog.setValue(round(100 * fraction))

    @Slot(object)
    def _on_done(self, outcome: HeatmapsOutcome) -> None:
        job, self._job = self._job, None
        if job is None:
            return  # not an export of this window
        self._model.set_job(None)
        self._close_dialog()
        written: list[Path] = []
        if job.cancelled or outcome.cancelled:
            self._notices.notify("Export cancelled; nothing was written.")
        elif outcome.error:
            self._notices.report_error(f"export failed: {outcome.error}")
        elif job.session is not self._model.session:
            self._notices.report_error("Another session was opened during the export; nothing was written.")
        else:
            try:
                written = _write(job, outcome.results)
            except Exception as exc:  # the window must survive whatever goes wrong while writing
                traceback.print_exc(file=sys.stderr)
                self._notices.report_error(f"export failed, nothing was written: {exc}")
            else:
                maps = written[1:]
                where = f" in {maps[0].parent}/" if maps else ""
                self._notices.notify(f"Exported {written[0]} and {len(maps)} heatmap file(s){where}.")
        self.finished.emit(written)

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)  # closing it emits canceled
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None


@dataclass
class _Job:
    """A running export: where it goes, the session and document snapshot it computes, its primary
    variant (whose predictions become the targets of points still "predicted"), and whether the
    user cancelled it."""

    path: Path
    session: Session
    document: CorrespondenceDocument
    primary: str
    cancelled: bool = False


def _write(job: _Job, results: tuple[PairHeatmaps, ...]) -> list[Path]:
    """Put the fresh predictions into the snapshot, then save it with its maps (all or nothing)."""
    document = job.document
    records = {record.pair_id: record for record in document.pairs}
    maps: dict[str, dict[str, dict[int, np.ndarray]]] = {}
    for result in results:
        record = records[result.pair_id]
        run_id = job.session.runs.register(result.run)
        if all(run.run_id != run_id for run in document.runs):
            document.runs.append(Run(run_id, result.run))
        rows = {point_id: row for row, point_id in enumerate(result.point_ids)}
        for index, keypoint in enumerate(record.keypoints):
            row = rows[keypoint.id]
            xy = (float(result.matches.match_xy[row, 0]), float(result.matches.match_xy[row, 1]))
            fresh = Prediction(run_id, xy, round(float(result.matches.confidence[row]), CONFIDENCE_DIGITS))
            record.keypoints[index] = keypoint.with_prediction(fresh, primary=result.variant == job.primary)
        maps.setdefault(result.pair_id, {})[run_id] = {point_id: result.maps[row] for point_id, row in rows.items()}
    return save_with_heatmaps(document, maps, job.path)
