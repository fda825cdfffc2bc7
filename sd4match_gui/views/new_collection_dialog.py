"""File > New collection: the template and the images to annotate. No behaviour beyond the form.

The template is either the open pair's source with its labelled points (label it first with the
Keypoints dock) or an image file (its keypoints are then placed after the collection opens, each
one propagated as soon as it is placed). The images are files and folders, one per line.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp);;All files (*)"


class NewCollectionDialog(QDialog):
    """``template_path()`` is None when the open pair's source is the template. Its file dialogs
    start in ``folder``; :attr:`folder` is the last one they used."""

    def __init__(self, source_points: int, source_name: str, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.setWindowTitle("New collection")
        self.use_source = QRadioButton(f"The open source image ({source_name}) with its {source_points} point(s)")
        self.use_file = QRadioButton("An image file:")
        self.template_file = QLineEdit()
        browse_template = QPushButton("Browse…")
        if source_points:
            self.use_source.setChecked(True)
        else:
            self.use_source.setEnabled(False)
            self.use_file.setChecked(True)
        self.targets = QPlainTextEdit()
        self.targets.setPlaceholderText("Image files and folders to annotate, one per line")
        add_files = QPushButton("Add images…")
        add_folder = QPushButton("Add folder…")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        template_row = QHBoxLayout()
        template_row.addWidget(self.use_file)
        template_row.addWidget(self.template_file, 1)
        template_row.addWidget(browse_template)
        target_buttons = QHBoxLayout()
        target_buttons.addWidget(add_files)
        target_buttons.addWidget(add_folder)
        target_buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Template</b> (its keypoints are predicted on every image)"))
        layout.addWidget(self.use_source)
        layout.addLayout(template_row)
        layout.addWidget(QLabel("<b>Images to annotate</b>"))
        layout.addWidget(self.targets, 1)
        layout.addLayout(target_buttons)
        layout.addWidget(self.buttons)
        browse_template.clicked.connect(self._browse_template)
        add_files.clicked.connect(self._add_files)
        add_folder.clicked.connect(self._add_folder)
        self.template_file.textEdited.connect(lambda _text: self.use_file.setChecked(True))
        self.resize(560, 380)

    def template_path(self) -> Path | None:
        return None if self.use_source.isChecked() else Path(self.template_file.text().strip()).expanduser()

    def target_paths(self) -> list[Path]:
        return [Path(line.strip()).expanduser() for line in self.targets.toPlainText().splitlines() if line.strip()]

    def _browse_template(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Template image", self.folder, IMAGE_FILTER)
        if path:
            self.folder = str(Path(path).parent)
            self.template_file.setText(path)
            self.use_file.setChecked(True)

    def _add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to annotate", self.folder, IMAGE_FILTER)
        if paths:
            self.folder = str(Path(paths[0]).parent)
        self._append(paths)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to annotate", self.folder)
        if folder:
            self.folder = str(Path(folder).parent)  # the next folder is likely its sibling
        self._append([folder] if folder else [])

    def _append(self, paths: list[str]) -> None:
        for path in paths:
            self.targets.appendPlainText(path)
