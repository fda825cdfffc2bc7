"""Finding learned prompts in a folder or zip laid out like the official release.

The release (``pretrained_prompts.zip``) holds folders named
``{Single|Class}_{set}_sd2-1_TokenEmbeds75/caption.pt`` and
``CPM_{set}_sd2-1_Pair-DINO-Feat-G25-C50/ckpt.pt``, for the sets ``spair`` and ``pfpascal``.
Prompts tuned with ``sd4match tune`` use the same naming with their own set name, so every
command finds them the same way. Folders may sit at any depth (the zip nests them in ``prompt/``).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
            try:
                with zipfile.ZipFile(self.root) as archive:
                    return [name for name in archive.namelist() if not name.endswith("/")]
            except (OSError, zipfile.BadZipFile) as exc:
                raise PromptError(f"cannot open prompt archive '{self.root}': {exc}") from exc
        if not self.root.is_dir():
            return []
        return [path.relative_to(self.root).as_posix() for path in self.root.rglob("*.pt")]

    def read_bytes(self, member: str) -> bytes:
        if self.is_archive:
            with zipfile.ZipFile(self.root) as archive:
                return archive.read(member)
        return (self.root / member).read_bytes()

    def location(self, member: str) -> str:
        return f"{self.root}!{member}" if self.is_archive else str(self.root / member)


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
    payloads = [(entry, source.read_bytes(entry.member)) for entry in entries]
    for entry, data in payloads:
        read_prompt_file(data, source.location(entry.member))  # validate before writing anything
    for entry, data in payloads:
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
