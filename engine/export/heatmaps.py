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

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import DocumentError
from ..file_names import file_stem, unique_stems
from .document import PairRecord, relative_path


def heatmap_folder(export_path: str | Path) -> Path:
    """Where the maps of the JSON file ``export_path`` go: ``{stem}_heatmaps`` beside it."""
    path = Path(export_path).resolve()
    return path.parent / f"{file_stem(path.stem)}_heatmaps"


def write_heatmaps(
    pair: PairRecord, maps: Mapping[str, Mapping[int, np.ndarray]], export_path: str | Path
) -> list[Path]:
    """Write the heatmaps of ``pair`` beside ``export_path`` and point its predictions at them.

    Args:
        pair: the exported pair; its predictions whose run has a map get a ``heatmap``.
        maps: run id -> keypoint id -> ``h x w`` map (keypoints without one get no file).
        export_path: the JSON file the document will be saved to (save it after this call, so
            that it never names a file that is not there yet).

    Returns:
        The files written, each atomically.
    """
    base, folder = Path(export_path).resolve().parent, heatmap_folder(export_path)
    known = {keypoint.id for keypoint in pair.keypoints}
    written = []
    for run_id, stem in zip(maps, unique_stems(list(maps)), strict=True):
        strangers = set(maps[run_id]) - known
        if strangers:
            raise ValueError(
                f"run '{run_id}' has heatmaps for keypoints {sorted(strangers)} not in pair '{pair.pair_id}'"
            )
        for keypoint in pair.keypoints:
            heatmap = maps[run_id].get(keypoint.id)
            if heatmap is None:
                continue
            path = folder / f"{file_stem(pair.pair_id)}_k{keypoint.id}_{stem}.npy"
            with atomic.atomic_writer(path, "wb") as handle:
                np.save(handle, np.ascontiguousarray(heatmap, dtype=np.float32), allow_pickle=False)
            for prediction in keypoint.predictions:
                if prediction.run_id == run_id:
                    prediction.heatmap = relative_path(path, base)
            written.append(path)
    return written


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
