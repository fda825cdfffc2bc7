"""Where the models are: SD 2-1, DINOv2 and the learned prompts; the float precision; the feature cache."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from engine.disk_cache import DiskCache
from engine.settings import DTYPES

from ..model.preferences import AppPreferences
from .widgets import combo

GIB = 1 << 30


def _path_row(edit: QLineEdit, caption: str) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    browse = QPushButton("Browse…")

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(row, caption, edit.text())
        if folder:
            edit.setText(folder)

    browse.clicked.connect(choose)
    layout.addWidget(edit, 1)
    layout.addWidget(browse)
    return row


class SettingsDialog(QDialog):
    """Edits an :class:`AppPreferences`; :meth:`values` returns the edited copy."""

    def __init__(self, preferences: AppPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._preferences = preferences
        self.sd = QLineEdit(preferences.sd)
        self.sd.setToolTip("Hub id (read from the local Hugging Face cache) or a diffusers folder of SD 2-1.")
        self.dinov2 = QLineEdit(preferences.dinov2)
        self.dinov2.setToolTip("Hub id or folder of DINOv2 (only the cpm prompt needs it).")
        self.prompts = QLineEdit(preferences.prompts or "")
        self.prompts.setPlaceholderText("the prompt library (sd4match prompts import)")
        self.prompts.setToolTip("Folder or pretrained_prompts.zip with the learned prompts.")
        self.dtype = combo(DTYPES, "auto: float16 on CUDA, bfloat16 autocast on CPUs that support it, else float32")
        self.dtype.setCurrentText(preferences.dtype)
        self.autosave = QCheckBox("Save every action to the session file")
        self.autosave.setChecked(preferences.autosave)
        self.cache_size = QDoubleSpinBox()
        self.cache_size.setRange(0.0, 4096.0)
        self.cache_size.setDecimals(1)
        self.cache_size.setSuffix(" GiB")
        self.cache_size.setValue(preferences.cache_bytes / GIB)
        self.cache_size.setToolTip(
            "Feature maps kept on disk between runs, shared with the sd4match commands; the least "
            "recently used go once this is reached. 0 keeps nothing new."
        )
        self.cache_usage = QLabel(f"now: {DiskCache().info().summary()}")
        self.cache_usage.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Stable Diffusion 2-1", _path_row(self.sd, "Stable Diffusion folder"))
        form.addRow("DINOv2", _path_row(self.dinov2, "DINOv2 folder"))
        form.addRow("Learned prompts", _path_row(self.prompts, "Prompt folder"))
        form.addRow("Precision", self.dtype)
        form.addRow("Autosave", self.autosave)
        form.addRow("Feature cache", self.cache_size)
        form.addRow("", self.cache_usage)
        form.addRow(QLabel("Fetch the weights once with: <code>sd4match download</code>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> AppPreferences:
        return self._preferences.replace(
            sd=self.sd.text().strip() or self._preferences.sd,
            dinov2=self.dinov2.text().strip() or self._preferences.dinov2,
            prompts=self.prompts.text().strip() or None,
            dtype=self.dtype.currentText(),
            autosave=self.autosave.isChecked(),
            cache_bytes=round(self.cache_size.value() * GIB),
        )
