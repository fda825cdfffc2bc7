"""The wheel is the whole app: every package is listed for it, and the bundled files are found when installed."""

from __future__ import annotations

import pytest

from sd4match_gui import bundled_files
from tests.conftest import REPO


def test_every_package_on_disk_is_listed_for_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("engine", "sd4match_gui")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert set(config["packages"]) == on_disk | {"sd4match_gui.resources"}
    assert config["package-dir"] == {"sd4match_gui.resources": "resources"}
    assert config["package-data"]["sd4match_gui.resources"] == ["demo/*", "icons/*"]
    shipped = {path.parent.name for path in (REPO / "resources").rglob("*") if path.is_file()}
    assert shipped == {"demo", "icons"}  # a new resources/ folder must be added to package-data


def test_a_checkout_reads_the_top_level_resources():
    assert bundled_files.RESOURCES == REPO / "resources"
    assert all(path.is_file() for path in (*bundled_files.DEMO_PAIR, bundled_files.APP_ICON))


def test_an_installed_package_reads_its_own_copy(tmp_path, monkeypatch):
    installed = tmp_path / "site-packages" / "sd4match_gui"
    (installed / "resources" / "demo").mkdir(parents=True)
    monkeypatch.setattr(bundled_files, "files", lambda package: installed)
    assert bundled_files.resources_folder() == installed / "resources"
