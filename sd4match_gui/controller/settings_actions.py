"""Settings edits: engine controls, display options, comparison variants, preferences, help.

A changed engine setting is a change of the model's settings, which makes the app ask for new
predictions: the engine's caches decide what must be recomputed (a new timestep costs UNet passes, a
new localisation nothing but the cheap match), and existing points are predicted again under the new
setting. These handlers read and change the model only; the app controller reacts to its events.
"""

from __future__ import annotations

import dataclasses
import html

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox

from engine import FeatureSettings, LocalisationSettings, PromptSpec
from engine.errors import EngineError
from engine.models.weights import looks_like_path

from .. import __version__
from ..main_window import MainWindow
from ..model.app_model import AppModel
from ..model.settings import SessionSettings, TunedPrompt
from ..views.cheat_sheet import CheatSheet
from ..views.settings_dialog import SettingsDialog
from ..views.variants_dialog import VariantsDialog
from ..views.widgets import signals_blocked
from ..worker.engine_client import EngineClient
from ..worker.messages import WeightsStatus
from .downloads import DOWNLOAD_SIZE, WeightsDownload
from .notices import Notices

ABOUT = (
    "<b>SD4Match</b> {version}<br>Semantic correspondence with Stable Diffusion features "
    "(Li et al., CVPR 2024).<br>Demo photos: public domain (NASA; US Navy), see resources/demo/ATTRIBUTION.md."
)
WEIGHTS_MISSING = (
    "Stable Diffusion weights not found: running on the weights-free dense SIFT backend "
    "(a classical baseline, far less accurate)."
)
WEIGHTS_NEEDED = "The sd backend needs the Stable Diffusion weights, which were not found."
WEIGHTS_HOW = (
    "Fetch the weights once with <code>sd4match download</code> (about 5.2 GB), or point Settings at a "
    "local folder{or_backend}.<br><small>{reason}</small>"
)
SIFT_SIZES = (384, 512, 768)  # input sizes compared when only the weights-free baseline can run
COMPARE_NEEDS_WEIGHTS = "Comparing prompts needs the Stable Diffusion weights, which are not installed."
SOME_NEED_WEIGHTS = "{names}: need the Stable Diffusion weights, which are not installed (their views stay empty)."
ONLY_SIFT_RUNS = (
    "Without the weights only the SIFT baseline runs: <b>Compare SIFT sizes</b> compares it at input sizes "
    "{sizes} (this replaces the variant list; Edit variants… lists prompts again once the weights are installed)."
)
COMPARE_SIFT = "Compare SIFT sizes"


class SettingsActions(QObject):
    """Handlers for the settings widgets of one window (a QObject so that answers from the download
    thread are queued to the GUI thread)."""

    def __init__(self, window: MainWindow, model: AppModel, client: EngineClient, notices: Notices) -> None:
        super().__init__()
        self._window = window
        self._model = model
        self._client = client
        self._notices = notices
        self.cheat_sheet: CheatSheet | None = None
        self.download = WeightsDownload()
        self.download.progress.connect(window.progress.show_stage)
        self.download.finished.connect(self._download_finished)
        model.session_replaced.connect(self._on_session_replaced)
        model.settings_changed.connect(self._on_settings_changed)
        client.worker.weights.connect(self.on_weights)

    def wire(self) -> None:
        window = self._window
        actions = window.actions
        window.engine_panel.changed.connect(self.set_engine)
        window.engine_panel.device_changed.connect(self.set_device)
        window.colormap.currentTextChanged.connect(lambda name: self.set_display(colormap=name))
        window.opacity.valueChanged.connect(lambda value: self.set_display(opacity=value / 100))
        actions["toggle_heatmap"].toggled.connect(lambda on: self.set_display(heatmap_visible=on))
        actions["toggle_lines"].toggled.connect(lambda on: self.set_display(lines_visible=on))
        actions["toggle_preview"].toggled.connect(self.set_hover_preview)
        actions["toggle_compare"].toggled.connect(self.set_compare_mode)
        actions["edit_variants"].triggered.connect(self.open_variants_dialog)
        actions["settings"].triggered.connect(self.open_settings_dialog)
        actions["cheat_sheet"].triggered.connect(self.show_cheat_sheet)
        actions["about"].triggered.connect(self.show_about)
        window.compare_panel.mode_toggled.connect(self.set_compare_mode)
        window.compare_panel.edit_clicked.connect(self.open_variants_dialog)
        window.compare_panel.variant_toggled.connect(self.toggle_variant)
        window.compare_panel.variant_removed.connect(self.remove_tuned)
        window.weights_banner.action_clicked.connect(self.on_weights_banner_action)

    def show_settings(self) -> None:
        """Make every settings widget show the session's settings (without feedback)."""
        window, settings = self._window, self._model.session.settings
        window.engine_panel.set_values(settings.prompt, settings.features, settings.localisation)
        window.engine_panel.set_device(self._model.preferences.device)
        display = settings.display
        with signals_blocked(window.colormap), signals_blocked(window.opacity):
            window.colormap.setCurrentText(display.colormap)
            window.opacity.setValue(round(display.opacity * 100))
        for name, on in (
            ("toggle_heatmap", display.heatmap_visible),
            ("toggle_lines", display.lines_visible),
            ("toggle_preview", display.hover_preview),
            ("toggle_compare", settings.compare.active),
        ):
            with signals_blocked(window.actions[name]):
                window.actions[name].setChecked(on)
        window.show_comparison(settings.compare.active)

    def _on_session_replaced(self, _session: object) -> None:
        self.show_settings()

    def _on_settings_changed(self, old: SessionSettings, new: SessionSettings) -> None:
        """Engine settings changed (also by undo of nothing but them, or a tuned prompt): show them;
        another backend may need other weights."""
        if (old.prompt, old.features, old.localisation) != (new.prompt, new.features, new.localisation):
            self.show_settings()
        if old.features.backend != new.features.backend:
            self._client.check_weights(self._model.preferences.engine_config())

    # ---- engine ----

    def set_engine(
        self, prompt: PromptSpec, features: FeatureSettings, localisation: LocalisationSettings | None = None
    ) -> None:
        settings = self._model.session.settings
        self._model.change_settings(
            prompt=prompt, features=features, localisation=localisation or settings.localisation
        )

    def set_device(self, device: str) -> None:
        self._model.set_preferences(self._model.preferences.replace(device=device))

    def set_display(self, **changes: object) -> None:
        self._model.change_settings(display=dataclasses.replace(self._model.session.settings.display, **changes))

    def set_hover_preview(self, on: bool) -> None:
        self.set_display(hover_preview=on)

    # ---- comparison ----

    def set_compare_mode(self, active: bool) -> None:
        """Enter or leave comparison mode. Without the SD weights, say once what cannot run and offer
        SIFT at several input sizes; if nothing listed could run, stay out of comparison mode."""
        if active and not self._explain_missing_weights():
            active = False
        else:
            self._set_compare(active=active)
        with signals_blocked(self._window.actions["toggle_compare"]):
            self._window.actions["toggle_compare"].setChecked(active)
        self._window.compare_panel.set_active(active)
        self._window.show_comparison(active)

    def compare_sift_sizes(self) -> None:
        """Compare the weights-free SIFT baseline at :data:`SIFT_SIZES` (replaces the variant list)."""
        self.set_variants(",".join(f"sift@size={size}" for size in SIFT_SIZES))
        self.set_compare_mode(True)

    def _explain_missing_weights(self) -> bool:
        """Offer SIFT sizes when listed variants need the missing weights; False if none can run."""
        settings = self._model.session.settings
        try:
            enabled = [v for v in settings.compare_variants() if v.name not in settings.compare.disabled]
        except EngineError:
            return True  # a malformed list is reported where it is edited
        blocked = self._model.results.needing_weights(enabled)
        if not blocked:
            return True
        details = ONLY_SIFT_RUNS.format(sizes=", ".join(str(size) for size in SIFT_SIZES))
        if len(blocked) == len(enabled):
            self._notices.offer(COMPARE_NEEDS_WEIGHTS, COMPARE_SIFT, self.compare_sift_sizes, details)
            return False
        names = ", ".join(v.name for v in blocked)
        self._notices.offer(SOME_NEED_WEIGHTS.format(names=names), COMPARE_SIFT, self.compare_sift_sizes, details)
        return True

    def set_variants(self, text: str) -> None:
        """Replace the variant list (mini-language); raises EngineError if it does not parse."""
        settings = self._model.session.settings
        compare = dataclasses.replace(settings.compare, variants=text)
        names = {v.name for v in dataclasses.replace(settings, compare=compare).compare_variants()}
        self._set_compare(variants=text, disabled=tuple(n for n in compare.disabled if n in names))

    def add_tuned(self, tuned: TunedPrompt) -> None:
        """Put a prompt tuned in the app into the comparison list, enabled (a re-tuned set keeps its place)."""
        compare = self._model.session.settings.compare
        if any(t.name == tuned.name for t in compare.tuned):
            listed = tuple(tuned if t.name == tuned.name else t for t in compare.tuned)
        else:
            listed = (*compare.tuned, tuned)
        self._set_compare(tuned=listed, disabled=tuple(n for n in compare.disabled if n != tuned.name))

    def remove_tuned(self, name: str) -> None:
        """Take a tuned prompt off the comparison list; its files stay in the prompt library."""
        compare = self._model.session.settings.compare
        self._set_compare(
            tuned=tuple(t for t in compare.tuned if t.name != name),
            disabled=tuple(n for n in compare.disabled if n != name),
        )

    def toggle_variant(self, name: str, on: bool) -> None:
        disabled = set(self._model.session.settings.compare.disabled)
        disabled = disabled - {name} if on else disabled | {name}
        self._set_compare(disabled=tuple(sorted(disabled)))

    def open_variants_dialog(self) -> None:
        settings = self._model.session.settings
        dialog = VariantsDialog(settings.compare.variants, settings.prompt, settings.features, self._window)
        if dialog.exec():
            try:
                self.set_variants(dialog.text())
            except EngineError as exc:
                self._notices.report_error(str(exc))

    def _set_compare(self, **changes: object) -> None:
        self._model.change_settings(compare=dataclasses.replace(self._model.session.settings.compare, **changes))

    # ---- preferences and weights ----

    def open_settings_dialog(self) -> None:
        dialog = SettingsDialog(self._model.preferences, self._window)
        if dialog.exec():
            self._model.set_preferences(dialog.values())

    def on_weights(self, status: WeightsStatus) -> None:
        """Say which backend runs; without SD weights, say how to get them (never blocking)."""
        banner = self._window.weights_banner
        backend = self._model.session.settings.features.backend
        self._model.results.set_sd_missing(status.sd_missing)
        button = "Settings…" if looks_like_path(self._model.preferences.sd) else f"Download ({DOWNLOAD_SIZE})…"
        if status.sd_missing and backend == "auto":
            how = WEIGHTS_HOW.format(or_backend="", reason=html.escape(status.sd_missing))
            banner.show_message(WEIGHTS_MISSING, "warning", button, how)
        elif status.sd_missing and backend == "sd":
            reason = html.escape(status.sd_missing)
            how = WEIGHTS_HOW.format(or_backend="; or choose the backend auto or sift", reason=reason)
            banner.show_message(WEIGHTS_NEEDED, "error", button, how)
        else:
            banner.hide()
        resolved = "sift" if backend == "sift" or (backend == "auto" and status.sd_missing) else "sd"
        self._window.backend_label.setText(f"backend: {resolved}")
        self._window.engine_panel.set_resolved_backend(resolved)

    def on_weights_banner_action(self) -> None:
        """Download hub weights (after a confirmation), or open Settings for a local folder."""
        source = self._model.preferences.sd
        if looks_like_path(source):
            self.open_settings_dialog()
            return
        question = f"Download Stable Diffusion 2-1 from '{source}' ({DOWNLOAD_SIZE}) into the Hugging Face cache?"
        answer = QMessageBox.question(self._window, "Download weights", question)
        if answer == QMessageBox.StandardButton.Yes:
            self.start_download()

    def start_download(self) -> None:
        if self.download.start(self._model.preferences.sd):
            self._window.weights_banner.hide()
            self._notices.notify("Downloading the Stable Diffusion weights; SIFT keeps working meanwhile.")

    @Slot(str)
    def _download_finished(self, error: str) -> None:
        self._window.progress.hide()
        if error:
            self._notices.report_error(error)
        else:
            self._notices.notify("Stable Diffusion weights ready.")
        self._client.check_weights(self._model.preferences.engine_config())
        self._model.note_engine_change()

    # ---- help ----

    def show_cheat_sheet(self) -> None:
        if self.cheat_sheet is None:
            self.cheat_sheet = CheatSheet(self._window)
        self.cheat_sheet.show()
        self.cheat_sheet.raise_()

    def show_about(self) -> None:
        QMessageBox.about(self._window, "About SD4Match", ABOUT.format(version=__version__))
