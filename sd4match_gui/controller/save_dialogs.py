"""What the app saves and exports, under which names, and the dialog that asks for the name.

A name typed without an extension gets its format's (``session1`` is saved as ``session1.json``,
which File > Open lists): the dialog adds it as it closes, so that its overwrite question is about
the file that will be written, and :func:`with_extension` adds it again for paths that come from
elsewhere (a platform's own dialog, a test, a script). Formats written as a folder of files take
the name without its extension as the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget


@dataclass(frozen=True)
class SaveFormat:
    """One kind of file the app writes.

    Attributes:
        name: the format's word in ``FileController.export`` ("json", "spair", ...).
        filter: the file dialog's filter line.
        extension: added to a name that has none; "" for a format written as a folder.
        what: how messages call one of its files.
    """

    name: str
    filter: str
    extension: str
    what: str = "file"

    @property
    def is_folder(self) -> bool:
        return not self.extension


SESSION_FORMAT = SaveFormat("session", "SD4Match session (*.json)", ".json", "session")
EXPORT_FORMATS = (
    SaveFormat("json", "sd-correspondence JSON (*.json)", ".json"),
    SaveFormat("json+heatmaps", "sd-correspondence JSON with heatmaps, computed for every point (*.json)", ".json"),
    SaveFormat("spair", "SPair-71k-style JSON, a folder with one file per pair (*)", "", "SPair-71k JSON"),
    SaveFormat("pfpascal", "PF-Pascal CSV (*.csv)", ".csv"),
    SaveFormat("coco", "COCO keypoints JSON (*.json)", ".json"),
    SaveFormat("labelme", "labelme, a folder with two files per pair (*)", "", "labelme"),
)


def export_format(name: str) -> SaveFormat:
    """The export format called ``name``; raises ValueError for an unknown one."""
    for candidate in EXPORT_FORMATS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown export format '{name}'")


def with_extension(path: Path, extension: str) -> Path:
    """``path`` with ``extension`` added when its name has no extension at all (as Qt's dialogs do)."""
    return path.with_name(path.name + extension) if extension and not path.suffix else path


def ask_save_path(
    parent: QWidget, caption: str, folder: str, formats: tuple[SaveFormat, ...]
) -> tuple[Path, SaveFormat] | None:
    """Ask for a file name to save as one of ``formats``; returns ``(path, format)``, or None if
    cancelled. The path has its format's extension."""
    dialog = QFileDialog(parent, caption, folder)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilters([f.filter for f in formats])
    by_filter = {f.filter: f for f in formats}

    def use_suffix_of(selected_filter: str) -> None:
        chosen = by_filter.get(selected_filter, formats[0])
        dialog.setDefaultSuffix(chosen.extension.lstrip("."))

    dialog.filterSelected.connect(use_suffix_of)
    use_suffix_of(formats[0].filter)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
            return None
        chosen = by_filter.get(dialog.selectedNameFilter(), formats[0])
        return with_extension(Path(dialog.selectedFiles()[0]), chosen.extension), chosen
    finally:
        dialog.deleteLater()
