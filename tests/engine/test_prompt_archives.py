"""Hostile prompt archives and folders: refused early, in bounded memory, with one line that says
the limits; the real release layout still imports."""

from __future__ import annotations

import io
import pickle
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import PromptError
from engine.prompts import library
from engine.prompts.library import PromptLibrary, folder_name, import_archive

SINGLE = f"prompt/{folder_name('single', 'spair')}/caption.pt"
CLASS = f"prompt/{folder_name('class', 'spair')}/caption.pt"
MIB = 2**20


def zip_of_zeros(path: Path, members: dict[str, int]) -> Path:
    """A zip whose members are ``size`` zero bytes each, streamed (never held in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, size in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for _ in range(size // MIB):
                    member.write(bytes(MIB))
    return path


def peak_bytes(call) -> tuple[int, Exception]:
    """Peak Python memory while ``call()`` raises (returned with the error)."""
    tracemalloc.start()
    try:
        with pytest.raises(PromptError) as raised:
            call()
        return tracemalloc.get_traced_memory()[1], raised.value
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(tmp_path):
    bomb = zip_of_zeros(tmp_path / "bomb.zip", {SINGLE: 96 * MIB, CLASS: 96 * MIB})
    assert bomb.stat().st_size < MIB
    peak, error = peak_bytes(lambda: import_archive(bomb, tmp_path / "library"))
    assert peak < 4 * MIB
    assert "declares 100,663,296 bytes" in str(error) and "at most 64 MiB a file, 256 MiB in all" in str(error)
    assert "\n" not in str(error) and not (tmp_path / "library").exists()


def lie_about_size(path: Path, size: int) -> None:
    """Rewrite the uncompressed size a one-member zip declares (local header and central directory)."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, data.index(b"PK\x03\x04") + 22, size)
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, size)
    path.write_bytes(bytes(data))


def test_a_member_whose_declared_size_lies_is_refused_in_bounded_memory(tmp_path):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(SINGLE, bytes(80 * MIB))  # 80 MiB of zeros, declared below as 1 KiB
    lie_about_size(archive, 1024)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.getinfo(SINGLE).file_size == 1024
    peak, error = peak_bytes(lambda: import_archive(archive, tmp_path / "library"))
    assert peak < 8 * MIB
    assert str(error).startswith(f"cannot read prompt archive '{archive}'") and "\n" not in str(error)


def test_reading_stops_at_the_limit_whatever_the_stream_says(tmp_path):
    with open("/dev/zero", "rb") as endless:
        peak, error = peak_bytes(lambda: library._read_within(endless, "endless", 3 * MIB))
    assert peak < 3 * MIB + 3 * library.CHUNK and "holds more than 3,145,728 bytes" in str(error)


def test_archives_over_the_total_or_count_limit_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(library, "FILE_LIMIT", 2 * MIB)
    monkeypatch.setattr(library, "TOTAL_LIMIT", 3 * MIB)
    archive = zip_of_zeros(tmp_path / "two.zip", {SINGLE: 2 * MIB, CLASS: 2 * MIB})
    with pytest.raises(PromptError, match=r"declare 4,194,304 bytes; refused \(at most 2 MiB a file, 3 MiB in all"):
        import_archive(archive, tmp_path / "library")
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zipped:
        for index in range(library.COUNT_LIMIT + 1):
            zipped.writestr(f"{folder_name('single', f'set{index}')}/caption.pt", b"x")
    with pytest.raises(PromptError, match=r"holds 1001 prompt files; at most 1000 are read"):
        import_archive(many, tmp_path / "library")
    assert not (tmp_path / "library").exists()


def test_a_device_behind_a_prompt_file_name_is_refused(tmp_path):
    folder = tmp_path / "prompts" / folder_name("single", "spair")
    folder.mkdir(parents=True)
    (folder / "caption.pt").symlink_to("/dev/zero")  # read to its end, it never ends
    with pytest.raises(PromptError, match="is not a regular file"):
        import_archive(tmp_path / "prompts", tmp_path / "library")
    with pytest.raises(PromptError, match="is not a regular file"):
        PromptLibrary(tmp_path / "prompts").read(PromptLibrary(tmp_path / "prompts").find("single", "spair"))


def test_the_command_line_says_one_line_and_the_limits(tmp_path, capsys):
    bomb = zip_of_zeros(tmp_path / "bomb.zip", {SINGLE: 96 * MIB})
    assert main(["prompts", "import", str(bomb), "--to", str(tmp_path / "library")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("sd4match prompts: error: prompt file ")
    assert "at most 64 MiB a file" in error


def test_an_archive_member_that_is_not_a_tensor_file_is_one_line(tmp_path, capsys):
    archive = tmp_path / "prompts.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(SINGLE, pickle.dumps({"code": io.BytesIO}, protocol=4))
    assert main(["prompts", "import", str(archive), "--to", str(tmp_path / "library")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is not a learned-prompt file" in error and "weights_only" not in error


def test_release_sized_prompts_still_import(tmp_path, tiny_prompts_dir):
    """Files the size of the release's largest (11 MB, CPM) are well inside the limits."""
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(tiny_prompts_dir.rglob("*.pt")):
            zipped.write(file, "prompt/" + file.relative_to(tiny_prompts_dir).as_posix())
        zipped.writestr("prompt/padding.bin", bytes(11 * MIB))  # not a prompt file: never read
    entries = import_archive(archive, tmp_path / "library")
    assert sorted(entry.variant for entry in entries) == ["class", "cpm", "single"]
    assert 11 * MIB * 6 < library.TOTAL_LIMIT and 11 * MIB < library.FILE_LIMIT
