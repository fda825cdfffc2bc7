"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Data goes to a hidden staging file beside the destination, is flushed to disk, then renamed over
the destination with ``os.replace`` (atomic on POSIX and Windows), and the folder is synced.

* A symlink is written through: its target gets the new contents, the link stays a link.
* Only a regular file is ever replaced. A character device or FIFO (``/dev/null``,
  ``/dev/stdout``, a named pipe) is written in place, as a shell redirection would; nothing can be
  atomic there. A directory, block device or socket is refused with :class:`OutputError`.
* The new file keeps the replaced file's permission bits (and owner, where allowed); a new file
  gets ``0o666`` less the umask, as ``open(path, "w")`` would.
* A staging name says which process wrote it (``.{name}.{host}-{pid}-{random}.tmp``). A writer
  killed mid-write leaves one behind; the first write into that folder by a later process removes
  it once that process is gone (on this machine; a day later for other machines), and never touches
  the staging files of a process still running. Only that exact shape is ever removed: the
  ``mkstemp`` names of earlier versions (``.{name}.{8 characters}.tmp``) cannot be told from a
  user's own hidden file (``.thesis.draft_v2.tmp``), so they are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from .errors import NumericError, OutputError

HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
STAGING = re.compile(r"^\..*\.(?P<host>[0-9a-f]{6})-(?P<pid>[0-9]+)-[0-9a-f]{6}\.tmp$")
FOREIGN_AGE_S = 24 * 3600  # a staging entry whose writer cannot be asked is stale after a day
SYNC_THREADS = 16
NAME_KEPT = 100  # characters of the destination's name kept in a staging name (file names end at 255)

_swept: set[str] = set()
_swept_lock = threading.Lock()


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a file object whose contents replace ``path`` only if the block completes.

    ``mode`` is "wb" or "w" (UTF-8). See the module docstring for symlinks and special files.
    """
    path = Path(path)
    encoding = None if "b" in mode else "utf-8"
    target = Path(os.path.realpath(path))
    current = check_destination(path)
    if current is not None and not stat.S_ISREG(current.st_mode):  # a stream: written in place
        with open(path, mode, encoding=encoding) as handle:
            yield handle
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging_once(target.parent)
    temp_name, descriptor = _create_staging_file(target, current)
    try:
        with os.fdopen(descriptor, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    sync_folder(target.parent)


def check_destination(path: str | Path) -> os.stat_result | None:
    """What ``path`` (through symlinks) is now, None if nothing; :class:`OutputError` unless it is
    a regular file, a character device or a FIFO. Callers about to do long work check first."""
    current = _stat(Path(os.path.realpath(path)))
    if current is None or any(test(current.st_mode) for test in (stat.S_ISREG, stat.S_ISCHR, stat.S_ISFIFO)):
        return current
    raise OutputError(f"cannot write '{path}': it is {_kind(current.st_mode)}, not a file; give a file name")


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any) -> None:
    """Pretty JSON (2-space indent, UTF-8, trailing newline), written atomically.

    Raises:
        NumericError: ``data`` holds NaN or infinity (not JSON; every reader would refuse the file),
            a last guard behind the writers' own checks; nothing is written.
    """
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise NumericError(f"refusing to write '{path}': {exc}") from None
    write_text(path, text + "\n")


def staging_name(name: str) -> str:
    """A hidden name for staging ``name`` that records this process (see :func:`owner_alive`)."""
    return f".{name[:NAME_KEPT]}.{HOST}-{os.getpid()}-{secrets.token_hex(3)}.tmp"


def owner_alive(name: str) -> bool | None:
    """Whether the process that made the staging name ``name`` still runs on this machine; None
    when that cannot be told (not a staging name, another machine, or no signal 0 on this OS)."""
    match = STAGING.match(name)
    if match is None or match["host"] != HOST or os.name == "nt":  # os.kill(pid, 0) terminates on Windows
        return None
    pid = int(match["pid"])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def remove_stale_staging_once(folder: Path) -> None:
    """:func:`remove_stale_staging` the first time this process writes into ``folder``."""
    key = os.path.normcase(os.path.abspath(folder))
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_staging(folder)


def remove_stale_staging(folder: Path) -> None:
    """Delete what killed writers left in ``folder``: staging files and folders of processes that
    are gone, and any older than a day whose writer cannot be asked (:func:`is_stale`)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not STAGING.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if is_stale(entry.name, entry.stat(follow_symlinks=False).st_mtime):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)


def is_stale(name: str, mtime: float) -> bool:
    """Whether a staging entry (``name``, last modified at ``mtime``) is abandoned: its process is
    gone, or it cannot be asked and the entry is over a day old."""
    alive = owner_alive(name)
    return alive is False or (alive is None and time.time() - mtime > FOREIGN_AGE_S)


def sync_files(paths: list[Path]) -> None:
    """Flush files written with plain ``open`` to disk before anything names them. The ``fsync``
    calls run side by side, so the file system commits them together: 0.15 s for 1,000 small files
    on ext4, against 4-5 s one after another."""
    with ThreadPoolExecutor(max_workers=SYNC_THREADS) as pool:
        list(pool.map(_fsync, paths))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDWR)  # Windows syncs only a handle that may write
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable where the system can (POSIX file systems; not Windows,
    which has no folder handles, nor the few file systems that refuse to sync a folder)."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _create_staging_file(target: Path, current: os.stat_result | None) -> tuple[Path, int]:
    """Create the staging file beside ``target`` with the permissions a normal save would give."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        temp_name = target.with_name(staging_name(target.name))
        try:
            descriptor = os.open(temp_name, flags, 0o666)  # the kernel applies the umask, as for open(path, "w")
        except FileExistsError:
            continue
        break
    if current is not None:
        try:
            os.chmod(temp_name, stat.S_IMODE(current.st_mode) & 0o777)
            if hasattr(os, "fchown") and (current.st_uid, current.st_gid) != _owner(descriptor):
                with contextlib.suppress(PermissionError):  # only root may give a file away
                    os.fchown(descriptor, current.st_uid, current.st_gid)
        except BaseException:
            os.close(descriptor)
            os.unlink(temp_name)
            raise
    return temp_name, descriptor


def _owner(descriptor: int) -> tuple[int, int]:
    status = os.fstat(descriptor)
    return status.st_uid, status.st_gid


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there (a path under a file holds nothing either)
        return None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
