"""Sessions and exports share one format: an ``sd-correspondence`` document.

An export is the document of every annotated pair (keypoints, each run's predictions, run records
with the exact model, prompt and settings). A session file is the same document plus a
``"session"`` key holding the pair list, the open pair, the selection and the settings, so any
session file is also a valid export, and importing either works the same way. Paths in both parts
are relative to the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import atomic
from engine.errors import DocumentError
from engine.export.document import CorrespondenceDocument, Keypoint, PairRecord, Run, relative_path, require_finite

from .collection_file import COLLECTION_KEY, collection_from_dict, collection_to_dict
from .datasets import pairs_from_dataset
from .pairs import PairEntry
from .session import Session
from .session_fields import SESSION_VERSION, read_session_part

SESSION_KEY = "session"

# A path as a session file at a folder writes it: ``relative_path`` or a memoised copy of it.
Relative = Callable[[Path, Path], str]


def to_document(session: Session) -> CorrespondenceDocument:
    """The export document of ``session``: annotated pairs and the runs their predictions cite."""
    records = []
    for pair in session.pairs:
        points = session.points(pair.pair_id)
        if points and pair.source in session.images and pair.target in session.images:
            records.append(
                PairRecord(
                    pair_id=pair.pair_id,
                    source=session.images[pair.source],
                    target=session.images[pair.target],
                    category=pair.category,
                    keypoints=points,
                )
            )
    cited = {p.run_id for record in records for k in record.keypoints for p in k.predictions}
    runs = [Run(run_id, details) for run_id, details in session.runs.items() if run_id in cited]
    return CorrespondenceDocument(runs=runs, pairs=records)


def session_document(
    session: Session, path: Path, relative: Relative = relative_path, base: Path | None = None
) -> CorrespondenceDocument:
    """The document a session file at ``path`` holds (the export plus the ``"session"`` key);
    ``relative`` writes its paths relative to ``base``, the file's resolved folder (found here if None)."""
    document = to_document(session)
    base = base or path.resolve().parent
    document.extra[SESSION_KEY] = {
        "version": SESSION_VERSION,
        "current_index": session.current_index,
        "selected": session.selected,
        "settings": session.settings.to_dict(),
    }
    if session.dataset is not None:  # thousands of pairs: store where they come from, not the list
        dataset = session.dataset
        document.extra[SESSION_KEY]["dataset"] = {
            "kind": dataset.kind,
            "root": relative(dataset.root, base),
            "split": dataset.split,
        }
    else:
        document.extra[SESSION_KEY]["pairs"] = [_pair_to_dict(pair, base, relative) for pair in session.pairs]
    if session.collection is not None:
        document.extra[COLLECTION_KEY] = collection_to_dict(session.collection, base, relative)
    return document


def session_data(session: Session, path: Path) -> dict[str, Any]:
    """The JSON a session file at ``path`` holds, after :func:`check_session_data`."""
    data = session_document(session, path).to_dict(path.resolve().parent)
    check_session_data(path, data)
    return data


def check_session_data(path: Path, data: dict[str, Any]) -> None:
    """Refuse to write what :func:`load_session` would refuse to read: the same readers run on it.

    The app's autosave thread calls this before each write, so a session holding something
    unreadable (a NaN prediction, a malformed setting) leaves the last good file in place.

    Raises:
        DocumentError: naming the field at fault.
    """
    base = path.resolve().parent
    try:
        require_finite(data, "session file")
        document = CorrespondenceDocument.from_dict(data, base)
        read_session_part(document.extra.get(SESSION_KEY), base)
        if COLLECTION_KEY in document.extra:
            collection_from_dict(document.extra[COLLECTION_KEY], base)
    except DocumentError as exc:
        raise DocumentError(f"the session cannot be saved, its file would not open again: {exc}") from None


def save_session(session: Session, path: Path) -> None:
    """Write atomically (temp file + replace), after :func:`session_data`'s checks."""
    atomic.write_json(path, session_data(session, path))


def load_session(path: Path) -> Session:
    """Read a session file, or any export (its pairs become the pair list); raises DocumentError
    naming the malformed field."""
    document = CorrespondenceDocument.load(path)
    data = document.extra.get(SESSION_KEY)
    session = Session()
    session.path = path.resolve()
    if data is None:
        session.set_pairs([_entry_from_record(r) for r in document.pairs])
    else:
        try:
            part = read_session_part(data, path.resolve().parent)
        except DocumentError as exc:
            raise DocumentError(f"'{path}': {exc}") from None
        session.settings = part.settings
        if part.dataset is not None:
            session.set_pairs(pairs_from_dataset(part.dataset)[0], part.current_index, part.dataset)
        else:
            session.set_pairs(part.pairs, part.current_index)
    for run in document.runs:
        session.runs.restore(run.run_id, run.details)
    _merge_records(session, document.pairs, {run.run_id: run.run_id for run in document.runs})
    if data is not None and session.point(part.selected) is not None:
        session.selected = part.selected
    if COLLECTION_KEY in document.extra:
        try:
            session.collection = collection_from_dict(document.extra[COLLECTION_KEY], path.resolve().parent)
        except DocumentError as exc:
            raise DocumentError(f"'{path}': {exc}") from None
    return session


def import_document(session: Session, path: Path) -> int:
    """Merge an export into ``session``: its pairs' points replace those of the same pair id, new
    pairs join the pair list, run ids are renumbered into the session's registry. Returns the
    number of pairs imported. Not undoable: the history is cleared."""
    document = CorrespondenceDocument.load(path)
    run_ids = {run.run_id: session.runs.register(run.details) for run in document.runs}
    known = {pair.pair_id for pair in session.pairs}
    session.pairs.extend(_entry_from_record(r) for r in document.pairs if r.pair_id not in known)
    if session.current_index < 0 and session.pairs:
        session.current_index = 0
    _merge_records(session, document.pairs, run_ids)
    session.history.clear()
    return len(document.pairs)


# ---- conversions ----


def _renumbered(keypoint: Keypoint, run_ids: dict[str, str]) -> Keypoint:
    """``keypoint`` with its predictions citing the session's run ids (the point itself is unchanged)."""
    if all(run_ids.get(p.run_id, p.run_id) == p.run_id for p in keypoint.predictions):
        return keypoint
    predictions = tuple(dataclasses.replace(p, run_id=run_ids.get(p.run_id, p.run_id)) for p in keypoint.predictions)
    return dataclasses.replace(keypoint, predictions=predictions)


def _merge_records(session: Session, records: list[PairRecord], run_ids: dict[str, str]) -> None:
    for record in records:
        session.images[record.source.path.resolve()] = record.source
        session.images[record.target.path.resolve()] = record.target
        session.set_points(record.pair_id, [_renumbered(k, run_ids) for k in record.keypoints])


def _entry_from_record(record: PairRecord) -> PairEntry:
    return PairEntry(
        record.pair_id,
        record.source.path.resolve(),
        record.target.path.resolve(),
        record.category,
        record.source.bbox_xyxy,
        record.target.bbox_xyxy,
    )


def _pair_to_dict(pair: PairEntry, base: Path, relative: Relative) -> dict[str, Any]:
    data: dict[str, Any] = {
        "pair_id": pair.pair_id,
        "source": relative(pair.source, base),
        "target": relative(pair.target, base),
        "category": pair.category,
    }
    data["source_bbox"] = list(pair.source_bbox) if pair.source_bbox else None
    data["target_bbox"] = list(pair.target_bbox) if pair.target_bbox else None
    data["ground_truth"] = [[list(g.src_xy), list(g.trg_xy), g.label] for g in pair.ground_truth]
    return data
