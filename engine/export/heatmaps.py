"""Heatmap side files of an export: one ``.npy`` per keypoint and run, never inline in the JSON.

Each file holds the cosine similarity of the source point's feature with every target feature
cell, ``h x w`` float32 in [-1, 1], on the target's feature grid (48 x 48 for SD at 768 px); it is
not upsampled. Cell ``(row i, column j)`` is centred on the target pixel
``(j * (S - 1) / (w - 1) * W / S, i * (S - 1) / (h - 1) * H / S)`` for an S x S model input and a
W x H image (align-corners, :mod:`engine.frames`), S being the run's ``features.size``.
The prediction's ``heatmap`` field names the file relative to the JSON file:
``{json stem}_heatmaps/{pair}_k{keypoint id}_{run}.npy``, a folder per export so that two exports
side by side never overwrite each other's maps.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import DocumentError
from ..file_names import file_stem, unique_stems
from .document import CorrespondenceDocument, PairRecord

Maps = Mapping[str, Mapping[str, Mapping[int, np.ndarray]]]  # pair id -> run id -> keypoint id -> h x w


def heatmap_folder(export_path: str | Path) -> Path:
    """Where the maps of the JSON file ``export_path`` go: ``{stem}_heatmaps`` beside it (the stem
    as it is: a name the file system took for the JSON, and two JSON files never share it)."""
    path = Path(export_path).resolve()
    return path.parent / f"{path.stem}_heatmaps"


def save_with_heatmaps(document: CorrespondenceDocument, maps: Maps, export_path: str | Path) -> list[Path]:
    """Save ``document`` to ``export_path`` with its maps in :func:`heatmap_folder`: all or nothing.

    The maps are written to a staging folder, which then takes the place of any earlier folder of
    this export, and the JSON is saved last, so it never names a file that is not there. If
    anything fails, the earlier JSON and maps are as they were and nothing new remains. Each
    prediction whose run has a map for its keypoint gets the file's name in ``heatmap``.

    Returns:
        The JSON, then the map files.
    """
    path = Path(export_path)
    final = heatmap_folder(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        names = [name for record in document.pairs for name in _write_pair(record, maps, staging, final.name)]
        backup = _swap_in(staging, final)
        try:
            document.save(path)
        except BaseException:
            final.rename(staging)  # removed below
            if backup is not None:
                backup.rename(final)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
    return [path, *(final / name for name in names)]


def _write_pair(record: PairRecord, maps: Maps, folder: Path, folder_name: str) -> list[str]:
    """Write ``record``'s maps into ``folder``, name them (as ``folder_name/...``) in its predictions."""
    by_run = maps.get(record.pair_id, {})
    known = {keypoint.id for keypoint in record.keypoints}
    names = []
    for run_id, stem in zip(by_run, unique_stems(list(by_run)), strict=True):
        strangers = set(by_run[run_id]) - known
        if strangers:
            raise ValueError(
                f"run '{run_id}': heatmaps for keypoints {sorted(strangers)} not in pair '{record.pair_id}'"
            )
        for keypoint in record.keypoints:
            heatmap = by_run[run_id].get(keypoint.id)
            if heatmap is None:
                continue
            name = f"{file_stem(record.pair_id)}_k{keypoint.id}_{stem}.npy"
            np.save(folder / name, np.ascontiguousarray(heatmap, dtype=np.float32), allow_pickle=False)
            for prediction in keypoint.predictions:
                if prediction.run_id == run_id:
                    prediction.heatmap = f"{folder_name}/{name}"
            names.append(name)
    return names


def _swap_in(staging: Path, final: Path) -> Path | None:
    """Put ``staging`` in the place of ``final``; returns the earlier ``final``, moved aside, or None."""
    backup = None
    if final.exists():
        backup = staging.with_name(f"{staging.name}.old")
        final.rename(backup)
    try:
        staging.rename(final)
    except BaseException:
        if backup is not None:
            backup.rename(final)
        raise
    return backup


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
