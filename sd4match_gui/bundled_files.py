"""Files shipped with the app: the demo pair and the application icon.

Their source of truth is the repository's top-level ``resources/`` folder. A wheel carries them
inside the package as ``sd4match_gui/resources/`` (pyproject.toml maps the folder there at build
time), so an installed app finds them with ``importlib.resources``; a source checkout or an
editable install (the README's) has no such folder and reads ``resources/`` beside the package.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resources_folder() -> Path:
    """The folder with ``demo/`` and ``icons/``: inside the installed package, else the checkout's."""
    packaged = files("sd4match_gui") / "resources"
    if packaged.is_dir():
        return Path(str(packaged))  # wheels install as plain files, never zipped
    return Path(__file__).resolve().parents[1] / "resources"


RESOURCES = resources_folder()
DEMO_PAIR = (RESOURCES / "demo" / "astronaut.jpg", RESOURCES / "demo" / "grace_hopper.jpg")
APP_ICON = RESOURCES / "icons" / "sd4match.svg"
