"""Writes that never lie: atomic replacement through symlinks, special files left alone, the
permissions a normal save gives, staging left by killed writers swept, and heatmap exports whose
JSON names its own maps at every instant (checked with real SIGKILLs)."""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine import atomic
from engine.errors import EngineError, NumericError, OutputError
from engine.export import heatmaps
from engine.export.document import CorrespondenceDocument, ImageRef, Keypoint, PairRecord, Prediction
from engine.export.heatmaps import read_heatmap, save_with_heatmaps

ROOT = Path(__file__).resolve().parents[2]


def staging_entries(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("."))


def test_a_symlinked_output_is_written_through_to_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "data.json"
    target.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(Path("real") / "data.json")
    atomic.write_json(link, {"new": 1})
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "data.json")
    assert target.read_text() == '{\n  "new": 1\n}\n'
    assert staging_entries(tmp_path) == [] and staging_entries(tmp_path / "real") == []
    dangling = tmp_path / "later.json"
    dangling.symlink_to("real/later.json")  # a link to a file not there yet creates that file
    atomic.write_text(dangling, "x")
    assert dangling.is_symlink() and (tmp_path / "real" / "later.json").read_text() == "x"


def test_a_fifo_is_written_in_place_never_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there, so the writer's open returns
    try:
        atomic.write_text(fifo, "through the pipe")
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert staging_entries(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_is_written_in_place_never_replaced(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the device of /dev/null, in tmp_path
    atomic.write_json(node, {"discarded": True})
    assert stat.S_ISCHR(os.lstat(node).st_mode) and os.lstat(node).st_rdev == os.makedev(1, 3)
    assert staging_entries(tmp_path) == []


def test_a_directory_is_refused_with_an_engine_error(tmp_path):
    folder = tmp_path / "out.json"
    folder.mkdir()
    (folder / "inside").write_text("kept")
    with pytest.raises(OutputError, match=r"cannot write '.*out\.json': it is a directory") as raised:
        atomic.write_json(folder, {})
    assert isinstance(raised.value, EngineError) and isinstance(raised.value, OSError)
    assert (folder / "inside").read_text() == "kept" and staging_entries(tmp_path) == []


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after)."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_a_new_file_gets_the_permissions_of_a_normal_save(tmp_path, umask, mask):
    umask(mask)
    atomic.write_text(tmp_path / "new.json", "{}")
    with open(tmp_path / "plain.json", "w") as handle:  # what any other program's save gives
        handle.write("{}")
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == stat.S_IMODE(
        os.stat(tmp_path / "plain.json").st_mode
    )


@pytest.mark.parametrize("mode", [0o600, 0o664, 0o640])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask, mode):
    umask(0o022)
    path = tmp_path / "kept.json"
    path.write_text("old")
    path.chmod(mode)
    atomic.write_text(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(os.stat(path).st_mode) == mode


def test_heatmap_folders_get_the_permissions_of_a_normal_save(tmp_path, umask):
    umask(0o022)
    written = save_with_heatmaps(export_document(1.0), {"p": {"r": {0: np.zeros((2, 2))}}}, tmp_path / "e.json")
    assert stat.S_IMODE(os.stat(written[1].parent).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(written[1]).st_mode) == 0o644


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_first_write_into_a_folder_sweeps_staging_of_dead_writers_only(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    dead_file = tmp_path / f".out.json.{atomic.HOST}-{dead}-abcdef.tmp"
    dead_folder = tmp_path / f".export_heatmaps.{atomic.HOST}-{dead}-abcdef.tmp"
    live_file = tmp_path / f".out.json.{atomic.HOST}-{alive}-abcdef.tmp"
    foreign = tmp_path / ".out.json.000000-1-abcdef.tmp"  # another machine's, an hour old: kept
    old_foreign = tmp_path / ".out.json.000000-2-abcdef.tmp"  # and two days old: removed
    legacy = tmp_path / ".out.json.k2j4h5g6.tmp"  # an earlier version's mkstemp shape, two days old: kept,
    legacy_folder = tmp_path / ".export_heatmaps.k2j4h5g6.old"  # as a user's file can have that shape
    unrelated = tmp_path / ".hidden.tmp"
    for path in (dead_file, live_file, foreign, old_foreign, legacy, unrelated):
        path.write_text("x")
    for folder in (dead_folder, legacy_folder):
        folder.mkdir()
        (folder / "map.npy").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(foreign, (time.time() - 3600,) * 2)
    for path in (old_foreign, legacy, legacy_folder):
        os.utime(path, (two_days_ago, two_days_ago))
    atomic.write_text(tmp_path / "out.json", "new")
    kept = (live_file, foreign, legacy, legacy_folder, unrelated)
    assert staging_entries(tmp_path) == sorted(p.name for p in kept)


def test_the_sweep_never_removes_a_users_own_hidden_files(tmp_path):
    """A checker's examples: hidden names that merely look like staging, days old, beside --out."""
    draft = tmp_path / ".thesis.draft_v2.tmp"
    draft.write_text("chapter 1")
    pictures = tmp_path / ".holiday_heatmaps.pics2024"
    pictures.mkdir()
    (pictures / "beach.jpg").write_bytes(b"photo")
    three_days_ago = time.time() - 3 * 24 * 3600
    for path in (draft, pictures):
        os.utime(path, (three_days_ago, three_days_ago))
    atomic.write_json(tmp_path / "e.json", {})
    assert draft.read_text() == "chapter 1" and (pictures / "beach.jpg").read_bytes() == b"photo"


CHILD_WRITER = """
import sys, time
from engine import atomic
with atomic.atomic_writer(sys.argv[1], "w") as handle:
    handle.write("half of a new fi")
    handle.flush()
    print("ready", flush=True)
    time.sleep(120)
"""


def start_child(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, stdout=subprocess.PIPE, text=True
    )


def test_a_killed_writer_leaves_the_old_file_and_its_staging_is_swept_once_it_is_gone(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("old")
    child = start_child(CHILD_WRITER, str(out))
    try:
        assert child.stdout.readline() == "ready\n"
        left = staging_entries(tmp_path)
        assert len(left) == 1 and f"-{child.pid}-" in left[0]
        atomic.remove_stale_staging(tmp_path)  # a concurrent writer's staging is its own: kept
        assert staging_entries(tmp_path) == left
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert out.read_text() == "old" and staging_entries(tmp_path) == left
    atomic.remove_stale_staging(tmp_path)  # what the next run's first write here does
    assert staging_entries(tmp_path) == [] and out.read_text() == "old"


def export_document(value: float) -> CorrespondenceDocument:
    """One pair, two points, one run; predictions at ``value`` so maps can be matched to their JSON."""
    image = ImageRef(Path("a.png"), 4, 4)
    keypoints = [Keypoint(k, (1.0, 1.0), predictions=[Prediction("r", (value, value))]) for k in (0, 1)]
    return CorrespondenceDocument(pairs=[PairRecord("p", image, image, keypoints=keypoints)])


def export_maps(value: float) -> dict:
    return {"p": {"r": {0: np.full((3, 3), value), 1: np.full((3, 3), value)}}}


def assert_json_names_its_own_maps(export: Path) -> float:
    """Every map the JSON names is there and holds its prediction's value; returns that value."""
    document = CorrespondenceDocument.load(export)
    values = set()
    for keypoint in document.pairs[0].keypoints:
        (prediction,) = keypoint.predictions
        assert prediction.heatmap is not None
        assert (read_heatmap(export, prediction.heatmap) == prediction.xy[0]).all()
        values.add(prediction.xy[0])
    assert len(values) == 1
    return values.pop()


CHILD_EXPORT = """
import os, signal, sys
import numpy as np
from engine.export import document as document_module
from engine.export.heatmaps import save_with_heatmaps
sys.path.insert(0, sys.argv[2])
from test_writes import export_document, export_maps

def killed(self, path):
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup runs, as with a power cut or kill -9

document_module.CorrespondenceDocument.save = killed
save_with_heatmaps(export_document(0.5), export_maps(0.5), sys.argv[1])
"""


def test_a_heatmap_export_killed_before_its_json_leaves_the_earlier_pair_whole(tmp_path):
    export = tmp_path / "export.json"
    first = save_with_heatmaps(export_document(0.25), export_maps(0.25), export)[1].parent
    child = start_child(CHILD_EXPORT, str(export), str(Path(__file__).parent))
    assert child.wait(timeout=120) == -signal.SIGKILL
    assert assert_json_names_its_own_maps(export) == 0.25  # the earlier export, maps and all
    abandoned = [p for p in tmp_path.iterdir() if p.is_dir() and p != first]
    assert len(abandoned) == 1 and any(f"-{child.pid}-" in p.name for p in abandoned[0].iterdir())
    written = save_with_heatmaps(export_document(0.75), export_maps(0.75), export)
    assert assert_json_names_its_own_maps(export) == 0.75
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", written[1].parent.name]


CHILD_KILLED_WHILE_REMOVING = """
import os, signal, sys
from pathlib import Path
from engine.export import heatmaps
sys.path.insert(0, sys.argv[2])
from test_writes import export_document, export_maps

def killed(folder, ignore_errors=False):
    next(Path(folder).iterdir()).unlink()  # half deleted, then killed
    os.kill(os.getpid(), signal.SIGKILL)

heatmaps.shutil.rmtree = killed
heatmaps.save_with_heatmaps(export_document(0.5), export_maps(0.5), sys.argv[1])
"""


def test_an_earlier_heatmap_folder_half_removed_by_a_killed_export_is_finished_next_time(tmp_path):
    export = tmp_path / "export.json"
    first = save_with_heatmaps(export_document(0.25), export_maps(0.25), export)[1].parent
    child = start_child(CHILD_KILLED_WHILE_REMOVING, str(export), str(Path(__file__).parent))
    assert child.wait(timeout=120) == -signal.SIGKILL
    assert assert_json_names_its_own_maps(export) == 0.5 and not first.exists()
    (doomed,) = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert f"-{child.pid}-" in doomed.name  # renamed before its removal began: recognisably being removed
    written = save_with_heatmaps(export_document(0.75), export_maps(0.75), export)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", written[1].parent.name]


def test_a_heatmap_export_keeps_the_folder_of_a_concurrent_unfinished_export(tmp_path, monkeypatch):
    export = tmp_path / "export.json"
    busy = tmp_path / "export_heatmaps-0123abcd"
    busy.mkdir()
    (busy / f".export.{atomic.HOST}-{os.getppid()}-abcdef.tmp").touch()  # its writer is running
    save_with_heatmaps(export_document(0.25), export_maps(0.25), export)
    save_with_heatmaps(export_document(0.5), export_maps(0.5), export)
    assert busy.is_dir() and len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_a_prediction_naming_a_removed_map_is_cleared(tmp_path):
    export = tmp_path / "export.json"
    save_with_heatmaps(export_document(0.25), export_maps(0.25), export)
    document = CorrespondenceDocument.load(export)
    document.runs = []
    keypoint = document.pairs[0].keypoints[0]
    renamed = dataclasses.replace(keypoint.predictions[0], run_id="renamed")  # its map is not written again
    document.pairs[0].keypoints[0] = dataclasses.replace(
        keypoint, predictions=(renamed, *keypoint.predictions[1:], Prediction("other", (0.0, 0.0)))
    )
    save_with_heatmaps(document, {"p": {"other": {0: np.zeros((3, 3))}}}, export)
    saved = CorrespondenceDocument.load(export)
    heatmaps = [p.heatmap for k in saved.pairs[0].keypoints for p in k.predictions]
    assert heatmaps[0] is None and heatmaps[1] is not None and heatmaps[2] is None
    read_heatmap(export, heatmaps[1])


def test_a_document_saved_through_a_symlink_names_its_images_from_where_it_lies(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "links" / "deeper").mkdir(parents=True)
    link = tmp_path / "links" / "deeper" / "export.json"
    link.symlink_to(tmp_path / "data" / "export.json")
    document = export_document(0.5)
    document.pairs[0].source = ImageRef(tmp_path / "images" / "a.png", 4, 4)
    document.save(link)
    for path in (link, tmp_path / "data" / "export.json"):  # through the link or at its target: the same image
        assert CorrespondenceDocument.load(path).pairs[0].source.path == tmp_path / "images" / "a.png"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_heatmap_export_beside_a_pipe_or_device_is_refused_before_any_map(tmp_path, monkeypatch, kind):
    if kind == "fifo":
        destination = tmp_path / "export.json"
        os.mkfifo(destination)  # never opened: a read or write would block for ever
    else:
        destination = Path(os.devnull)
        monkeypatch.setattr(heatmaps, "_new_folder", lambda *args: pytest.fail("a folder was made beside a device"))
    monkeypatch.setattr(heatmaps, "_write_pair", lambda *args: pytest.fail("a map was written"))
    with pytest.raises(OutputError, match="device or pipe, not a file"):
        save_with_heatmaps(export_document(0.5), export_maps(0.5), destination)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["export.json"] if kind == "fifo" else [])


def test_match_refuses_heatmaps_beside_dev_null_before_any_work(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "match",
            "missing_a.png",
            "missing_b.png",
            "--points",
            "1,1",
            "--out",
            os.devnull,
            "--heatmaps",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode != 0 and "device or pipe, not a file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_heatmap_export_to_a_directory_is_refused_before_any_map_is_written(tmp_path, monkeypatch):
    (tmp_path / "export.json").mkdir()
    monkeypatch.setattr(heatmaps, "_write_pair", lambda *args: pytest.fail("a map was written"))
    with pytest.raises(OutputError, match="it is a directory"):
        save_with_heatmaps(export_document(0.5), export_maps(0.5), tmp_path / "export.json")
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]


def test_json_with_nan_is_refused_and_nothing_is_written(tmp_path):
    """The last guard behind every writer's own checks: NaN is not JSON, so no reader could open it."""
    path = tmp_path / "out.json"
    path.write_text('{"kept": true}\n')
    with pytest.raises(NumericError, match=r"out\.json"):
        atomic.write_json(path, {"xy": [1.0, float("nan")]})
    assert path.read_text() == '{"kept": true}\n'
