"""Tuning a prompt on this session's accepted and corrected points, then comparing it.

The run is the engine's GUI-free ``PromptTrainer`` on the engine thread (the worker owns the
Matcher and its models); this controller builds the request from the dialog, shows the worker's
reports (stage, progress, one loss point per step) and, once a prompt has been kept, adds it to
the comparison list as a new variant next to the stock prompts.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from engine.errors import EngineError

from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..model.settings import TunedPrompt
from ..model.tuning import DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, SessionPoints, default_set_name, session_points
from ..views.tune_dialog import TuneChoices, TuneDialog
from ..worker.engine_client import EngineClient
from ..worker.messages import TrainingOutcome, TrainingRequest
from .notices import Notices
from .settings_actions import SettingsActions

if TYPE_CHECKING:
    from engine.training import EpochReport, StepReport

NO_POINTS = (
    "No accepted or corrected points in this session yet. Accept predictions (Enter) or correct them "
    "(click the target) first: those points are what the prompt learns from."
)


EXPORT_RUNNING = "An export with heatmaps holds the engine; tune once it has ended."
JOB = "tuning"  # the model's job while a run holds the engine


class TuningController(QObject):
    """The "Tune a prompt" command of one window.

    Args:
        window: the dialog's parent.
        model: the session to learn from; its job is :data:`JOB` while a run holds the engine.
        client: the engine thread.
        notices: the window's messages.
        settings: puts a tuned prompt into the comparison list and turns comparison on.

    Attributes:
        dialog: created on first use.
        outcome: how the last run ended (None while none has).
    """

    def __init__(
        self, window: MainWindow, model: AppModel, client: EngineClient, notices: Notices, settings: SettingsActions
    ) -> None:
        super().__init__()
        self._window = window
        self._model = model
        self._client = client
        self._notices = notices
        self._settings = settings
        self.dialog: TuneDialog | None = None
        self.outcome: TrainingOutcome | None = None
        self._request: TrainingRequest | None = None
        self._category: str | None = None
        worker = client.worker
        worker.training_stage.connect(self._on_stage)
        worker.training_step.connect(self._on_step)
        worker.training_epoch.connect(self._on_epoch)
        worker.training_done.connect(self._on_done)

    @property
    def running(self) -> bool:
        """A run was submitted and has not ended yet."""
        return self._request is not None and self.outcome is None

    def open_dialog(self) -> None:
        """Show the dialog with defaults for this session's data."""
        data = session_points(self._model.session)
        if self.dialog is None:
            self.dialog = TuneDialog(self._window)
            self.dialog.start_clicked.connect(self.start)
            self.dialog.resume_clicked.connect(self.resume)
            self.dialog.stop_clicked.connect(self.stop)
            defaults = TuneChoices(
                "single",
                default_set_name(self._model.session),
                DEFAULT_EPOCHS,
                data.default_batch,
                DEFAULT_LEARNING_RATE,
                False,
            )
        else:  # keep the user's last choices
            defaults = dataclasses.replace(self.dialog.values(), batch_size=data.default_batch)
        self.dialog.set_defaults(defaults, data.pairs, self._describe(data))
        self.dialog.show()
        self.dialog.raise_()

    @Slot()
    def start(self) -> None:
        # Imported here: engine.training pulls in accelerate, which an app that never tunes need not load.
        from engine.training import TrainingConfig

        assert self.dialog is not None
        choices, data = self.dialog.values(), session_points(self._model.session)
        if not data.points:
            self.dialog.show_message(NO_POINTS, error=True)
            return
        features = self._model.session.settings.features
        try:
            config = TrainingConfig(
                choices.variant,
                choices.prompt_set,
                epochs=choices.epochs,
                batch_size=choices.batch_size,
                learning_rate=choices.learning_rate,
                size=features.size,  # the prompt is tuned at the resolution it will be used at
                layer=features.layer,
                seed=features.seed,
            )
        except EngineError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        session = self._model.session
        provenance = {"kind": "sd4match-gui session", "root": str(session.path or "this untitled session")}
        self._category = data.single_category if choices.variant == "class" else None
        engine = self._model.preferences.engine_config()
        self._submit(TrainingRequest(config, data.document, provenance, engine, overwrite=choices.overwrite))

    @Slot()
    def resume(self) -> None:
        if self._request is not None:
            self._submit(dataclasses.replace(self._request, resume=True, overwrite=False))

    @Slot()
    def stop(self) -> None:
        self._client.stop_training()
        if self.dialog is not None:
            self.dialog.show_stage("stopping after the current step…")

    # ---- worker reports ----

    @Slot(str, float)
    def _on_stage(self, stage: str, fraction: float) -> None:
        if self.dialog is not None and stage != "training":  # steps have their own, richer line
            self.dialog.show_stage(stage)

    @Slot(object)
    def _on_step(self, report: StepReport) -> None:
        if self.dialog is not None:
            self.dialog.add_step(report.step, report.total_steps, report.loss)
            self.dialog.show_stage(
                f"epoch {report.epoch}, step {report.step} of {report.total_steps}: loss {report.loss:.3f}"
            )

    @Slot(object)
    def _on_epoch(self, report: EpochReport) -> None:
        if self.dialog is not None:
            self.dialog.show_message(f"Epoch {report.epoch}: mean loss {report.train_loss:.3f}.")

    @Slot(object)
    def _on_done(self, outcome: TrainingOutcome) -> None:
        self.outcome = outcome
        self._model.set_job(None)
        dialog, result = self.dialog, outcome.result
        stopped = result is not None and result.stopped
        if dialog is not None:
            dialog.set_running(False, resumable=stopped)
        if result is None:
            if dialog is not None:
                dialog.show_stage("failed")
                dialog.show_message(outcome.error, error=True)
            return
        if stopped:
            if dialog is not None:
                dialog.show_stage(f"stopped after step {result.steps_done} of {result.total_steps}")
                dialog.show_message("The run's state is saved: Resume continues it.")
            return
        assert self._request is not None
        config = self._request.config
        tuned = TunedPrompt(config.variant, config.prompt_set, self._category)
        self._settings.add_tuned(tuned)
        text = f"Tuned '{tuned.name}' and added it to the comparison list."
        if dialog is not None:
            dialog.show_stage(f"done: {result.steps_done} step(s)")
            dialog.show_message(text)
        self._notices.offer(text, "Compare now", lambda: self._settings.set_compare_mode(True))

    # ---- internals ----

    def _submit(self, request: TrainingRequest) -> None:
        assert self.dialog is not None
        if self._model.job not in (None, JOB):
            self.dialog.show_message(EXPORT_RUNNING, error=True)
            return
        self._request = request
        self.outcome = None
        self._model.set_job(JOB)
        if not request.resume:
            self.dialog.clear_curve()
        self.dialog.set_running(True, resumable=False)
        self.dialog.show_stage("waiting for the engine…")
        self._client.train(request)

    def _describe(self, data: SessionPoints) -> str:
        features = self._model.session.settings.features
        categories = ", ".join(f"{name or 'no category'} ({count})" for name, count in sorted(data.categories.items()))
        where = f"; categories: {categories}" if categories else ""
        return (
            f"Learns from {data.points} accepted or corrected point(s) in {data.pairs} pair(s){where}, "
            f"at the current input size ({features.size}) and layer ({features.layer}); the prompt is "
            f"written to the prompt library."
        )
