"""Heatmap side files of an export: one ``.npy`` per keypoint and run, never inline in the JSON.

Each file holds the cosine similarity of the source point's feature with every target feature
cell, ``h x w`` float32 in [-1, 1], on the target's feature grid (48 x 48 for SD at 768 px); it is
not upsampled. Cell ``(row i, column j)`` is centred on the target pixel
``(j * (S - 1) / (w - 1) * W / S, i * (S - 1) / (h - 1) * H / S)`` for an S x S model input and a
W x H image (align-corners, :mod:`engine.frames`), S being the run's ``features.size``.
The prediction's ``heatmap`` field names the file relative to the JSON file:
``{json stem}_heatmaps-{8 hex digits}/{pair}_point{keypoint id + 1}_{run}.npy`` (the point number
the app shows). Every export gets a folder of its own, written in full before the JSON that names
it replaces the earlier JSON, and the earlier export's folder is removed only then: at every
instant the JSON on disk names maps that are there and are its own, whenever the process is killed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np

from .. import atomic
from ..errors import DocumentError, OutputError
from ..file_names import file_stem, unique_stems
from .document import CorrespondenceDocument, Keypoint, PairRecord

Maps = Mapping[str, Mapping[str, Mapping[int, np.ndarray]]]  # pair id -> run id -> keypoint id -> h x w


def save_with_heatmaps(document: CorrespondenceDocument, maps: Maps, export_path: str | Path) -> list[Path]:
    """Save ``document`` to ``export_path`` with its maps in a new folder beside it: all or nothing.

    1. Folders of earlier exports of this JSON abandoned by a killed process are removed, and so
       are folders a killed process was removing.
    2. The maps go to a new folder ``{stem}_heatmaps-{random}`` (synced to disk), which holds an
       in-progress marker naming this process until the JSON names it.
    3. The JSON is saved atomically (naming only maps that are there), then the folders the earlier
       JSON named are removed.
    If anything fails, the earlier JSON and maps are as they were and nothing new remains. Each
    prediction whose run has a map for its keypoint gets the file's name in ``heatmap``; one that
    named a map of the earlier export, now removed, gets None.

    Returns:
        The JSON, then the map files.
    """
    path = Path(export_path)
    check_heatmaps_destination(path)  # before any map is written
    json_file = Path(os.path.realpath(path))  # a symlinked JSON is written through: maps go beside its target
    parent = json_file.parent
    parent.mkdir(parents=True, exist_ok=True)
    earlier = _folders_named_by(json_file)
    _remove_abandoned(parent, json_file.stem, keep=earlier)
    folder = _new_folder(parent, json_file.stem)
    marker = folder / atomic.staging_name("export")
    try:
        marker.touch(exist_ok=False)
        names = [name for record in document.pairs for name in _write_pair(record, maps, folder)]
        _forget(document, earlier - {folder.name})
        atomic.sync_files([folder / name for name in names])
        atomic.sync_folder(folder)
        document.save(path)
    except BaseException:
        _discard(folder)
        raise
    marker.unlink()
    for name in earlier - {folder.name}:
        _discard(parent / name)
    return [path, *(folder / name for name in names)]


def check_heatmaps_destination(export_path: str | Path) -> None:
    """:class:`OutputError` unless ``export_path`` is a regular file or nothing yet: maps go in a
    folder beside the JSON, which makes no sense beside a device or a pipe (``/dev/null``)."""
    current = atomic.check_destination(export_path)
    if current is not None and not stat.S_ISREG(current.st_mode):
        raise OutputError(
            f"cannot write heatmaps beside '{export_path}': it is a device or pipe, not a file; give a file name"
        )


def _folder_pattern(stem: str) -> re.Pattern[str]:
    """Names of the heatmap folders of a JSON file with this stem (the last form without the
    random part is that of earlier versions)."""
    return re.compile(re.escape(stem) + r"_heatmaps(-[0-9a-f]{8})?")


def _new_folder(parent: Path, stem: str) -> Path:
    while True:
        folder = parent / f"{stem}_heatmaps-{secrets.token_hex(4)}"
        try:
            folder.mkdir()  # 0o777 less the umask, as any folder the user makes
        except FileExistsError:
            continue
        return folder


def _folders_named_by(json_file: Path) -> set[str]:
    """The heatmap folders of this JSON named by its current contents (nothing if unreadable).

    Only names of this JSON's own folders count, so an edited file cannot make an export delete
    anything else.
    """
    if not json_file.is_file():  # nothing yet, or a stream (``--out /dev/stdout``): reading it would block
        return set()
    try:
        data = json.loads(json_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return set()
    pattern = _folder_pattern(json_file.stem)
    named = set()
    for pair in _dicts(data.get("pairs") if isinstance(data, dict) else None):
        for keypoint in _dicts(pair.get("keypoints")):
            for prediction in _dicts(keypoint.get("predictions")):
                heatmap = prediction.get("heatmap")
                if isinstance(heatmap, str) and pattern.fullmatch(_top(heatmap)):
                    named.add(_top(heatmap))
    return named


def _top(relative: str) -> str:
    """The first component of a relative path (its folder), "" for an empty one."""
    parts = PurePosixPath(relative).parts
    return parts[0] if parts else ""


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _remove_abandoned(parent: Path, stem: str, keep: set[str]) -> None:
    """Remove this JSON's heatmap folders whose export was killed before finishing: they still hold
    the in-progress marker of a process that is gone. ``keep`` (named by the JSON) stays. Folders
    whose removal was cut short (renamed by :func:`_discard`) are finished too."""
    atomic.remove_stale_staging(parent)
    pattern = _folder_pattern(stem)
    for folder in parent.iterdir():
        if folder.name in keep or not pattern.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        markers = [entry for entry in folder.iterdir() if atomic.STAGING.match(entry.name)]
        if markers and all(atomic.is_stale(marker.name, marker.lstat().st_mtime) for marker in markers):
            _discard(folder)


def _discard(folder: Path) -> None:
    """Delete ``folder`` safely against kills: it is first renamed to a staging name of this
    process, so a deletion cut short leaves a folder the next run's sweep
    (:func:`atomic.remove_stale_staging`) finishes, never a half-emptied one under an export's name."""
    doomed = folder.with_name(atomic.staging_name(folder.name))
    try:
        os.rename(folder, doomed)
    except OSError:
        return  # gone already, or not ours to move: left as it is
    shutil.rmtree(doomed, ignore_errors=True)


def _forget(document: CorrespondenceDocument, removed: set[str]) -> None:
    """Clear ``heatmap`` where it names a file in a folder about to be removed."""
    for record in document.pairs:
        record.keypoints = [
            _with_heatmaps(k, {p.run_id: None for p in k.predictions if p.heatmap and _top(p.heatmap) in removed})
            for k in record.keypoints
        ]


def _write_pair(record: PairRecord, maps: Maps, folder: Path) -> list[str]:
    """Write ``record``'s maps into ``folder``, name them in its predictions."""
    by_run = maps.get(record.pair_id, {})
    known = {keypoint.id for keypoint in record.keypoints}
    names = []
    for run_id, stem in zip(by_run, unique_stems(list(by_run)), strict=True):
        strangers = set(by_run[run_id]) - known
        if strangers:
            raise ValueError(
                f"run '{run_id}': heatmaps for keypoints {sorted(strangers)} not in pair '{record.pair_id}'"
            )
        for index, keypoint in enumerate(record.keypoints):
            heatmap = by_run[run_id].get(keypoint.id)
            if heatmap is None:
                continue
            name = f"{file_stem(record.pair_id)}_point{keypoint.number}_{stem}.npy"
            np.save(folder / name, np.ascontiguousarray(heatmap, dtype=np.float32), allow_pickle=False)
            record.keypoints[index] = _with_heatmaps(keypoint, {run_id: f"{folder.name}/{name}"})
            names.append(name)
    return names


def _with_heatmaps(keypoint: Keypoint, files: dict[str, str | None]) -> Keypoint:
    """``keypoint`` with the ``heatmap`` of the predictions of the runs in ``files`` set (the point
    itself is unchanged, so its ``updated_at`` stays)."""
    if not files:
        return keypoint
    predictions = tuple(
        dataclasses.replace(p, heatmap=files[p.run_id]) if p.run_id in files else p for p in keypoint.predictions
    )
    return dataclasses.replace(keypoint, predictions=predictions)


def keyed_by_keypoint(pair: PairRecord, maps: np.ndarray) -> dict[int, np.ndarray]:
    """``N x h x w`` maps in the order of ``pair.keypoints`` -> keypoint id -> map."""
    return {keypoint.id: heatmap for keypoint, heatmap in zip(pair.keypoints, maps, strict=True)}


def read_heatmap(export_path: str | Path, heatmap: str) -> np.ndarray:
    """Load a prediction's ``heatmap`` file (relative to the JSON file ``export_path``): ``h x w``."""
    path = Path(export_path).resolve().parent / heatmap
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DocumentError(f"cannot read the heatmap '{path}': {exc}") from exc
    if data.ndim != 2:
        raise DocumentError(f"the heatmap '{path}' has shape {data.shape}; expected h x w")
    return data
