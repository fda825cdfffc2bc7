"""The screenshot command (``python -m sd4match_gui.screenshots``) works, writing only where it is told."""

from __future__ import annotations

import os

import pytest
from PySide6.QtGui import QImage

from sd4match_gui import screenshots
from tests.conftest import REPO

SIZES = {
    **screenshots.WINDOW_SHOTS,
    screenshots.COMPARISON_SHOT[0]: screenshots.COMPARISON_SHOT[1],
    screenshots.COLLECTION_SHOT[0]: screenshots.COLLECTION_SHOT[1],
}


def distinct_colours(image: QImage) -> int:
    """Colours on a coarse grid of the image: a blank or unpainted window has one or two."""
    step = 16
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


def test_the_command_writes_every_shot_into_the_given_folder_only(qapp, tmp_path):
    tracked = {path: path.stat().st_mtime_ns for path in (REPO / "docs" / "screenshots").glob("*.png")}
    home = os.environ["SD4MATCH_HOME"]
    assert screenshots.main(["--out", str(tmp_path / "shots")]) == 0
    assert sorted(path.name for path in (tmp_path / "shots").iterdir()) == sorted(SIZES)
    for name, size in SIZES.items():
        image = QImage(str(tmp_path / "shots" / name))
        assert (image.width(), image.height()) == size, name
        assert distinct_colours(image) > 50, f"{name} shows no picture"
    main, comparison = (QImage(str(tmp_path / "shots" / name)) for name in ("main-window.png", "comparison.png"))
    assert main != comparison  # comparison mode shows four target views
    assert {path: path.stat().st_mtime_ns for path in tracked} == tracked  # the README's PNGs are untouched
    assert os.environ["SD4MATCH_HOME"] == home  # the user's folder is back after the shots


def test_an_unknown_shot_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit):
        screenshots.main(["--out", str(tmp_path), "--only", "everything.png"])
    assert "invalid choice" in capsys.readouterr().err
    assert not tmp_path.joinpath("everything.png").exists()
