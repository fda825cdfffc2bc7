"""Finding learned prompts in a folder or zip laid out like the official release.

The release (``pretrained_prompts.zip``) holds folders named
``{Single|Class}_{set}_sd2-1_TokenEmbeds75/caption.pt`` and
``CPM_{set}_sd2-1_Pair-DINO-Feat-G25-C50/ckpt.pt``, for the sets ``spair`` and ``pfpascal``.
Prompts tuned with ``sd4match tune`` use the same naming with their own set name, so every
command finds them the same way. Folders may sit at any depth (the zip nests them in ``prompt/``).

Archives and folders may be hostile. A prompt file is a few kilobytes (Single: 1 x 77 x 1024
float32, 0.3 MB) to about 11 MB (Class: one such tensor per category, 6.3 MB for PF-Pascal's 20;
CPM: a 1536 -> 1024 and a 1024 -> 1024 linear layer and its embeddings, 11 MB), so a file over
:data:`FILE_LIMIT`, an archive whose prompt files add up to over :data:`TOTAL_LIMIT` or holding over
:data:`COUNT_LIMIT` of them is refused: first by the sizes the archive declares, before anything is
read, then by counting the bytes as they are decompressed (a declared size may lie), so memory
stays bounded by the limits. Only regular files are read from a folder (never a device or pipe
behind a symlink). Members are only ever written under their recognised folder name, so an archive
cannot write outside the library (no zip-slip), and tensors are read without unpickling code.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from .. import atomic
from ..errors import PromptError
from ..paths import prompt_library_home
from .files import PromptFile, read_prompt_file

FOLDER_PATTERNS = {
    "single": re.compile(r"^Single_(?P<set>[A-Za-z0-9-]+)_(?P<model>[A-Za-z0-9.-]+)_TokenEmbeds\d+$"),
    "class": re.compile(r"^Class_(?P<set>[A-Za-z0-9-]+)_(?P<model>[A-Za-z0-9.-]+)_TokenEmbeds\d+$"),
    "cpm": re.compile(r"^CPM_(?P<set>[A-Za-z0-9-]+)_(?P<model>[A-Za-z0-9.-]+)_Pair-DINO-Feat-G\d+-C\d+$"),
}
FILE_NAMES = {"single": "caption.pt", "class": "caption.pt", "cpm": "ckpt.pt"}
SET_NAME = re.compile(r"^[A-Za-z0-9-]+$")
MIB = 2**20
FILE_LIMIT = 64 * MIB  # one prompt file: about 10x the largest released one
TOTAL_LIMIT = 256 * MIB  # every prompt file of one archive or folder together
COUNT_LIMIT = 1000  # prompt files in one archive or folder (the release has 6)
CHUNK = MIB  # bytes decompressed at a time


@dataclass(frozen=True)
class PromptEntry:
    """One learned-prompt file found in a library.

    Attributes:
        variant: "single", "class" or "cpm".
        prompt_set: e.g. "spair".
        model: the model tag in the folder name, e.g. "sd2-1".
        folder: the folder name, e.g. "Class_spair_sd2-1_TokenEmbeds75".
        member: the file's path inside the library root (relative, POSIX).
    """

    variant: str
    prompt_set: str
    model: str
    folder: str
    member: str


def folder_name(variant: str, prompt_set: str, model: str = "sd2-1") -> str:
    """The official folder name for a variant and set (tuned prompts are saved under it)."""
    if not SET_NAME.match(prompt_set):
        raise PromptError(f"prompt set name '{prompt_set}' may contain only letters, digits and '-'")
    return {
        "single": f"Single_{prompt_set}_{model}_TokenEmbeds75",
        "class": f"Class_{prompt_set}_{model}_TokenEmbeds75",
        "cpm": f"CPM_{prompt_set}_{model}_Pair-DINO-Feat-G25-C50",
    }[variant]


class PromptLibrary:
    """A folder or zip archive of learned prompts.

    Args:
        root: the folder or ``.zip``; None means the user's library (``sd4match prompts import``).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else prompt_library_home()
        self._cache: dict[tuple[str, float], PromptFile] = {}

    @property
    def is_archive(self) -> bool:
        return self.root.suffix.lower() == ".zip"

    def entries(self) -> list[PromptEntry]:
        """Every recognised prompt file, sorted by variant and set."""
        found = [entry for member in self._members() if (entry := _entry_for(member)) is not None]
        return sorted(found, key=lambda e: (e.variant, e.prompt_set, e.model, e.member))

    def find(self, variant: str, prompt_set: str) -> PromptEntry:
        """The file for ``variant`` in ``prompt_set``, preferring the SD2-1 model tag."""
        matches = [e for e in self.entries() if e.variant == variant and e.prompt_set == prompt_set]
        if not matches:
            have = ", ".join(sorted({f"{e.variant}/{e.prompt_set}" for e in self.entries()})) or "none"
            raise PromptError(
                f"no learned '{variant}' prompt for set '{prompt_set}' in '{self.root}' (available: {have}). "
                f"Import the released prompts with `sd4match prompts import pretrained_prompts.zip`, "
                f"or pass --prompts (app: Settings) with a folder, zip or prompt file."
            )
        matches.sort(key=lambda e: e.model != "sd2-1")
        return matches[0]

    def read(self, entry: PromptEntry) -> PromptFile:
        """Load an entry's tensors (cached until the library file changes)."""
        stamp = self.root.stat().st_mtime if self.is_archive else (self.root / entry.member).stat().st_mtime
        key = (entry.member, stamp)
        if key not in self._cache:
            self._cache[key] = read_prompt_file(self.read_bytes(entry.member), self.location(entry.member))
        return self._cache[key]

    def _members(self) -> list[str]:
        if self.is_archive:
            with self._archive() as archive:
                return [name for name in archive.namelist() if not name.endswith("/")]
        if not self.root.is_dir():
            return []
        return [path.relative_to(self.root).as_posix() for path in self.root.rglob("*.pt")]

    def read_bytes(self, member: str) -> bytes:
        """One file's bytes, refused past :data:`FILE_LIMIT` (declared or read)."""
        return self.read_all([member])[0][1]

    def read_all(self, members: list[str]) -> list[tuple[str, bytes]]:
        """Each member's bytes (the archive opened once), within the module's limits: checked on
        the declared sizes before the first byte is read, and again while reading."""
        if len(members) > COUNT_LIMIT:
            raise PromptError(f"'{self.root}' holds {len(members)} prompt files; at most {COUNT_LIMIT} are read")
        if not self.is_archive:
            try:
                _check_sizes([_regular_file_size(self.root / member) for member in members], members, self)
                return _read_each(members, lambda member: open(self.root / member, "rb"), self)
            except OSError as exc:
                raise PromptError(f"cannot read prompt file in '{self.root}': {exc}") from exc
        with self._archive() as archive:
            try:
                _check_sizes([archive.getinfo(member).file_size for member in members], members, self)
                return _read_each(members, archive.open, self)
            except (
                KeyError,
                OSError,
                EOFError,
                RuntimeError,
                NotImplementedError,
                zlib.error,
                zipfile.BadZipFile,
            ) as exc:
                raise PromptError(f"cannot read prompt archive '{self.root}': {exc}") from exc

    def _archive(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.root)
        except (OSError, zipfile.BadZipFile) as exc:
            raise PromptError(f"cannot open prompt archive '{self.root}': {exc}") from exc

    def location(self, member: str) -> str:
        return f"{self.root}!{member}" if self.is_archive else str(self.root / member)


def read_prompt_bytes(path: Path) -> bytes:
    """A prompt file's bytes from disk: a regular file within :data:`FILE_LIMIT`."""
    _check_sizes([_regular_file_size(path)], [str(path)], None)
    with open(path, "rb") as stream:
        return _read_within(stream, str(path), FILE_LIMIT)


def _regular_file_size(path: Path) -> int:
    status = os.stat(path)  # through symlinks: what would be read
    if not stat.S_ISREG(status.st_mode):
        raise PromptError(f"prompt file '{path}' is not a regular file (a device, pipe or folder); refused")
    return status.st_size


def _check_sizes(sizes: list[int], names: list[str], library: PromptLibrary | None) -> None:
    """Refuse by declared sizes, before reading: any file over FILE_LIMIT, all over TOTAL_LIMIT."""
    for size, name in zip(sizes, names, strict=True):
        if size > FILE_LIMIT:
            where = library.location(name) if library is not None else name
            raise PromptError(f"prompt file '{where}' declares {size:,} bytes; {_limits()}")
    if sum(sizes) > TOTAL_LIMIT:
        raise PromptError(
            f"the prompt files in '{library.root if library else names[0]}' declare {sum(sizes):,} bytes; {_limits()}"
        )


def _read_each(
    members: list[str], open_member: Callable[[str], IO[bytes]], library: PromptLibrary
) -> list[tuple[str, bytes]]:
    """Read each member, counting the bytes of each and of all together."""
    payloads, total = [], 0
    for member in members:
        with open_member(member) as stream:
            data = _read_within(stream, library.location(member), FILE_LIMIT)
        total += len(data)
        if total > TOTAL_LIMIT:
            raise PromptError(f"the prompt files in '{library.root}' hold more than {TOTAL_LIMIT:,} bytes; {_limits()}")
        payloads.append((member, data))
    return payloads


def _read_within(stream: IO[bytes], location: str, limit: int) -> bytes:
    """Read ``stream`` to its end, counting bytes: refused as soon as it passes ``limit``."""
    data = bytearray()
    while chunk := stream.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise PromptError(f"prompt file '{location}' holds more than {limit:,} bytes; {_limits()}")
    return bytes(data)


def _limits() -> str:
    return (
        f"refused (at most {FILE_LIMIT // MIB} MiB a file, {TOTAL_LIMIT // MIB} MiB in all; "
        f"the released prompt files are at most a few MB)"
    )


def import_archive(archive: str | Path, destination: str | Path | None = None) -> list[PromptEntry]:
    """Copy every recognised prompt file from a zip or folder into a library (default: the user's).

    Files are validated before anything is written and each is written atomically, so a corrupt
    archive leaves the destination untouched.
    """
    source = PromptLibrary(archive)
    if not source.root.exists():
        raise PromptError(f"prompt archive '{archive}' does not exist")
    entries = source.entries()
    if not entries:
        example = f"{folder_name('single', 'spair')}/caption.pt"
        raise PromptError(f"'{archive}' contains no learned prompts in the release layout (e.g. {example})")
    target = Path(destination).expanduser() if destination is not None else prompt_library_home()
    payloads = dict(source.read_all([entry.member for entry in entries]))  # within the limits, or refused
    for entry in entries:
        read_prompt_file(payloads[entry.member], source.location(entry.member))  # validate before writing anything
    for entry in entries:
        data = payloads[entry.member]
        atomic.write_bytes(target / entry.folder / FILE_NAMES[entry.variant], data)
    return PromptLibrary(target).entries()


def _entry_for(member: str) -> PromptEntry | None:
    path = PurePosixPath(member)
    if len(path.parts) < 2:
        return None
    folder = path.parent.name
    for variant, pattern in FOLDER_PATTERNS.items():
        match = pattern.match(folder)
        if match and path.name == FILE_NAMES[variant]:
            return PromptEntry(variant, match["set"], match["model"], folder, member)
    return None
