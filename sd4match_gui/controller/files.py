"""Opening pairs and sessions, saving, exporting, importing, autosave and recovery.

Methods taking a path do the work (tests call them); ``ask_*`` methods first show a file dialog,
which opens in the folder the last dialog for the same kind of file used (images, sessions,
exports, keypoint schemas; see :meth:`FileController.folder_for`).
Errors become a message for the user, never an exception out of a slot. Datasets and sessions
(which may name a dataset) are read off the GUI thread by :attr:`FileController.loader`; the open
session stays, and keeps working, until the new one has been read. A failing autosave is shown
in the window until a write succeeds again; untitled work left behind by opening something else
is named in the status bar and listed by File > Recover unsaved work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from engine.errors import EngineError
from engine.export import converters

from ..model import datasets
from ..model.app_model import AppModel
from ..model.autosave import AutosaveWriter, new_recovery_path, recovery_files, recovery_folder
from ..model.pairs import PairEntry
from ..model.session import Session
from ..model.session_file import check_session_data, import_document, load_session, to_document
from ..model.session_text import SessionDocuments
from ..views.recovery_dialog import RecoveryDialog
from .background import BackgroundLoader
from .notices import Notices
from .save_dialogs import EXPORT_FORMATS, SESSION_FORMAT, ask_save_path, export_format, with_extension

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp)"
RESULTS_AUTOSAVE_DELAY_MS = 1000  # predictions are recomputable, so they are saved lazily
AUTOSAVE_FAILED_HINT = "Your work is still in memory: save it elsewhere with File > Save session as…"
# Kinds of file whose dialogs each open in the folder they last used (remembered between runs).
IMAGES, SESSIONS, EXPORTS, SCHEMAS = "images", "sessions", "exports", "schemas"
FOLDER_KINDS = (IMAGES, SESSIONS, EXPORTS, SCHEMAS)


class AutosaveReports(QObject):
    """Carries the writer thread's outcome of every write to the GUI thread (a queued signal)."""

    written = Signal(object)  # the error message, or None when the file was written
    changed = Signal(object)  # on the GUI thread, only when failing starts, changes or stops

    def __init__(self) -> None:
        super().__init__()
        self.error: str | None = None
        self.written.connect(self._on_written)

    @Slot(object)
    def _on_written(self, error: str | None) -> None:
        if error != self.error:
            self.error = error
            self.changed.emit(error)


class FileController:
    """File operations of one window.

    Args:
        parent: the window (dialog parent).
        model: the app model: its session is read, saved and replaced here.
        notices: the status bar and message banner.
        export_with_heatmaps: starts the export that computes every point's heatmap (asynchronous).
    """

    def __init__(
        self, parent: QWidget, model: AppModel, notices: Notices, export_with_heatmaps: Callable[[Path], object]
    ) -> None:
        self._parent = parent
        self._model = model
        self._notices = notices
        self._export_with_heatmaps = export_with_heatmaps
        self.autosave_reports = AutosaveReports()
        self.autosave_reports.changed.connect(self._autosave_changed)
        self.writer = AutosaveWriter(self.autosave_reports.written.emit, check=check_session_data)
        self._documents = SessionDocuments()
        self.loader = BackgroundLoader()
        self.recovery_path = new_recovery_path()
        self.recovery_dialog: RecoveryDialog | None = None
        self.last_folder = ""  # the folder of the last file dialog, whatever its kind
        self.folders: dict[str, str] = {}  # kind (FOLDER_KINDS) -> the folder its dialogs last used
        self._results_timer = QTimer()
        self._results_timer.setSingleShot(True)
        self._results_timer.timeout.connect(self.autosave)

    # ---- opening ----

    def open_pairs(
        self,
        pairs: list[PairEntry],
        dataset: datasets.DatasetRef | None = None,
        message: str = "",
        fill: Callable[[Session], None] | None = None,
        carries_over: bool = False,
    ) -> None:
        """Start a new untitled session on ``pairs`` with the current settings; ``message`` says so;
        ``fill`` completes the session before it is installed (a new collection's points);
        ``carries_over``: the new session holds all the work of the current one (nothing to recover)."""
        self.loader.abandon()  # the user opened something else meanwhile
        session = Session(self._model.session.settings)
        session.set_pairs(pairs, dataset=dataset)
        if fill is not None:
            fill(session)
        kept = self._leave_current(carries_over)
        self.recovery_path = new_recovery_path()
        self._model.set_session(session)
        self._say(message, kept)

    def open_dataset(self, dataset: datasets.DatasetRef) -> None:
        """A benchmark split, read in the background; its keypoints become the reference."""

        def opened(found: tuple[list[PairEntry], int]) -> None:
            pairs, mirrored = found
            skipped = f"; {mirrored} mirrored pair(s) left out" if mirrored else ""
            self.open_pairs(pairs, dataset, f"Opened {dataset.kind} {dataset.split}: {len(pairs)} pair(s){skipped}.")

        description = f"reading {dataset.kind} {dataset.split}"
        self.loader.start(description, lambda: datasets.pairs_from_dataset(dataset), opened, self._notices.report_error)

    def open_images(self, source: Path, target: Path) -> None:
        self.open_pairs(datasets.pairs_from_images(source, target))

    def open_path(self, path: Path, split: str = "test") -> bool:
        """Open a session/export JSON, a pair list, a benchmark's folder or a folder; False if that failed
        at once (datasets and sessions are read in the background and report errors then)."""
        try:
            if path.is_dir():
                kind = datasets.dataset_kind(path)
                if kind is not None:
                    self.open_dataset(datasets.DatasetRef(kind, path.resolve(), split))
                else:
                    self.open_pairs(datasets.pairs_from_folder(path))
            elif path.suffix.lower() == ".json":
                self.open_session(path)
            else:
                self.open_pairs(datasets.pairs_from_list(path))
        except (EngineError, OSError) as exc:
            self._notices.report_error(str(exc))
            return False
        return True

    def open_session(self, path: Path) -> None:
        """Read a session in the background, then make it the window's."""
        self._read_session(path, recovery=False)

    def reopen_recovery(self, path: Path) -> None:
        """Continue an untitled session a crash (or a quit) left behind; it keeps autosaving there."""
        self._read_session(path, recovery=True)

    def _read_session(self, path: Path, recovery: bool) -> None:
        def opened(session: Session) -> None:
            kept = self._leave_current()
            if recovery:
                session.path = None
                self.recovery_path = path
            self._model.set_session(session)
            verb = "Reopened the unsaved session from" if recovery else "Opened"
            self._say(f"{verb} {path.name}: {len(session.pairs)} pair(s).", kept)

        self.loader.start(f"opening {path.name}", lambda: load_session(path), opened, self._notices.report_error)

    # ---- saving ----

    def save_session(self, path: Path | None = None) -> bool:
        """Save to ``path`` (``.json`` added to a name without extension) or the session's own file;
        the session then autosaves there."""
        session = self._model.session
        if path is None and session.path is None:
            return self.ask_save_session_as()
        path = with_extension(path, SESSION_FORMAT.extension) if path is not None else session.path
        path = path.resolve()
        self._model.set_path(path)
        self.writer.submit(path, self._document_dict(session, path))
        if not self.writer.flush():
            self._notices.report_error(f"saving '{path}' timed out")
            return False
        if self.writer.last_error:
            self._notices.report_error(self.writer.last_error)
            return False
        self._delete_recovery()
        self._notices.notify(f"Saved {path}; every action is now saved to it automatically.")
        return True

    def autosave(self) -> None:
        """Write the session now (off the GUI thread): to its file, or to the recovery file."""
        self._results_timer.stop()
        session = self._model.session
        if not session.pairs:
            return
        path = session.path if session.path is not None and self._model.preferences.autosave else self.recovery_path
        self.writer.submit(path, self._document_dict(session, path))

    def _autosave_changed(self, error: str | None) -> None:
        """A failing autosave is an error banner until a write succeeds again."""
        if error is not None:
            self._notices.report_error(f"{error}. {AUTOSAVE_FAILED_HINT}")
        else:
            self._notices.notify("Autosave works again: every action is saved.")

    def autosave_later(self) -> None:
        """Coalesce saves after engine results (each click's answers would otherwise save twice)."""
        if not self._results_timer.isActive():
            self._results_timer.start(RESULTS_AUTOSAVE_DELAY_MS)

    def close(self) -> None:
        self.loader.abandon()  # a read still in flight must not replace the session of a closed window
        if self._results_timer.isActive():
            self.autosave()
        self._leave_current()  # an untitled session without points leaves no recovery file behind
        self.writer.close()

    # ---- recovery ----

    def recovery_offer(self) -> tuple[str, str, Callable[[], None]] | None:
        """At start: what to say about the untitled sessions kept earlier, the button, its action."""
        kept = recovery_files(exclude=self.recovery_path)
        if not kept:
            return None
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        return f"Unsaved work was kept: {kept[0].describe()}{more}.", "Recover…", self.ask_recover

    def ask_recover(self) -> None:
        """List every recovery file but this window's own, newest first, to reopen or discard."""
        kept = recovery_files(exclude=self.recovery_path)
        if not kept:
            self._notices.notify(f"No unsaved work is kept in {recovery_folder()}.")
            return
        self.recovery_dialog = RecoveryDialog(kept, recovery_folder(), self._parent)
        self.recovery_dialog.reopen.connect(self.reopen_recovery)
        self.recovery_dialog.discard.connect(self.discard_recovery)
        self.recovery_dialog.open()

    def discard_recovery(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            self._notices.report_error(f"cannot discard '{path}': {exc}")
            return
        self._notices.notify(f"Discarded {path}.")

    # ---- export and import ----

    def export(self, path: Path, fmt: str = "json") -> list[Path]:
        """Write the annotated pairs as ``fmt`` (a name of ``EXPORT_FORMATS``); returns the files.

        A name without extension gets the format's. Formats written as a folder of files ("spair",
        "labelme") use ``path`` without its extension as the folder. "json+heatmaps" is computed
        on the engine thread first: it returns nothing here, and its files come with
        ``HeatmapExport.finished``.
        """
        chosen = export_format(fmt)
        path = path.with_suffix("") if chosen.is_folder else with_extension(path, chosen.extension)
        if fmt == "json+heatmaps":
            self._export_with_heatmaps(path)
            return []
        document = to_document(self._model.session)
        if not document.pairs:
            self._notices.report_error("Nothing to export yet: add points to a pair first.")
            return []
        try:
            if fmt == "json":
                document.save(path)
                written = [path]
            elif fmt == "spair":
                written = converters.write_spair(document, path)
            elif fmt == "labelme":
                written = converters.write_labelme(document, path)
            elif fmt == "pfpascal":
                written = [converters.write_pfpascal_csv(document, path)]
            else:
                written = [converters.write_coco(document, path)]
        except (EngineError, OSError) as exc:
            self._notices.report_error(f"export failed: {exc}")
            return []
        pairs = f"{len(document.pairs)} pair(s)"
        if chosen.is_folder:
            self._notices.notify(f"Exported {pairs} as {len(written)} {chosen.what} file(s) in {path}{os.sep}")
        else:
            self._notices.notify(f"Exported {pairs} to {path}")
        return written

    def import_json(self, path: Path) -> bool:
        try:
            count = import_document(self._model.session, path)
        except (EngineError, OSError) as exc:
            self._notices.report_error(str(exc))
            return False
        self._model.set_session(self._model.session)
        self._notices.notify(f"Imported {count} pair(s) from {path.name} (undo history cleared).")
        return True

    # ---- dialogs ----

    def folder_for(self, kind: str) -> str:
        """Where a file dialog for ``kind`` (one of :data:`FOLDER_KINDS`) starts: the folder its
        dialogs last used, else the folder of the last dialog of any kind."""
        return self.folders.get(kind) or self.last_folder

    def remember_folder(self, kind: str, folder: Path) -> None:
        """``folder`` was just used by a dialog for ``kind``: the next one of that kind starts there."""
        self.folders[kind] = self.last_folder = str(folder)

    def ask_open_images(self) -> None:
        source, _ = QFileDialog.getOpenFileName(self._parent, "Source image", self.folder_for(IMAGES), IMAGE_FILTER)
        if not source:
            return
        target, _ = QFileDialog.getOpenFileName(self._parent, "Target image", str(Path(source).parent), IMAGE_FILTER)
        if target:
            self.remember_folder(IMAGES, Path(source).parent)
            with self._errors_reported():
                self.open_images(Path(source), Path(target))

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Folder of images", self.folder_for(IMAGES))
        if folder:
            self.remember_folder(IMAGES, Path(folder))
            self.open_path(Path(folder))

    def ask_open_pair_list(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Pair list", self.folder_for(IMAGES), "Pair lists (*.txt *.csv)"
        )
        if path:
            self.remember_folder(IMAGES, Path(path).parent)
            self.open_path(Path(path))

    def ask_open_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Dataset folder", self.folder_for(IMAGES))
        if not folder:
            return
        self.remember_folder(IMAGES, Path(folder).parent)  # the next dataset is likely its sibling
        kind = datasets.dataset_kind(Path(folder))
        if kind is None:
            self._notices.report_error(f"'{folder}' is not an SPair-71k, PF-Pascal or PF-Willow folder")
            return
        splits = list(datasets.DATASET_SPLITS[kind])
        split, ok = QInputDialog.getItem(self._parent, kind, "Split", splits, 0, False)
        if ok:
            self.open_path(Path(folder), split)

    def ask_open_session(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open session", self.folder_for(SESSIONS), SESSION_FORMAT.filter
        )
        if path:
            self.remember_folder(SESSIONS, Path(path).parent)
            self.open_session(Path(path))

    def ask_save_session_as(self) -> bool:
        answer = ask_save_path(self._parent, "Save session", self.folder_for(SESSIONS), (SESSION_FORMAT,))
        if answer is None:
            return False
        self.remember_folder(SESSIONS, answer[0].parent)
        return self.save_session(answer[0])

    def ask_export(self) -> None:
        answer = ask_save_path(self._parent, "Export", self.folder_for(EXPORTS), EXPORT_FORMATS)
        if answer is not None:
            self.remember_folder(EXPORTS, answer[0].parent)
            self.export(answer[0], answer[1].name)

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Import", self.folder_for(EXPORTS), "JSON (*.json)")
        if path:
            self.remember_folder(EXPORTS, Path(path).parent)
            self.import_json(Path(path))

    # ---- internals ----

    def _leave_current(self, carried_over: bool = False) -> str:
        """Before switching sessions: an untitled session's recovery file is its only copy, so it
        stays (File > Recover unsaved work lists it) unless the session holds no points or the next
        session holds all its work (``carried_over``). Returns a sentence saying where that work
        went, or ""."""
        current = self._model.session
        annotated = current.annotated_pair_ids()
        if current.path is None and (not annotated or carried_over):
            self._delete_recovery()
            return ""
        self.writer.flush()
        if current.path is not None:
            return ""
        if self.writer.last_error:
            return f"The unsaved points of the previous session could not be kept: {self.writer.last_error}"
        count = sum(len(current.points(pair_id)) for pair_id in annotated)
        return (
            f"The previous session's {count} unsaved point(s) were kept in {self.recovery_path} "
            "(File > Recover unsaved work reopens them)."
        )

    def _say(self, message: str, kept: str) -> None:
        """What was opened (status bar), and where the work of the session it replaced went: in a
        banner that stays until closed, since a status message is gone in seconds or overwritten
        by the next tooltip."""
        if message:
            self._notices.notify(message)
        if kept:
            self._notices.offer(kept, "Recover…", self.ask_recover)

    def _delete_recovery(self) -> None:
        self.writer.flush()
        with contextlib.suppress(OSError):
            self.recovery_path.unlink(missing_ok=True)

    def _document_dict(self, session: Session, path: Path) -> dict:
        return self._documents(session, path)  # reuses unchanged points' dicts: the writer knows them

    @contextlib.contextmanager
    def _errors_reported(self):
        try:
            yield
        except (EngineError, OSError) as exc:
            self._notices.report_error(str(exc))
