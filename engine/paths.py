"""Where the project keeps its own files on the user's machine.

``SD4MATCH_HOME`` overrides everything; otherwise the platform's per-user data folder
(``$XDG_DATA_HOME/sd4match`` or ``~/.local/share/sd4match`` on Linux, ``~/Library/Application
Support/sd4match`` on macOS, ``%APPDATA%/sd4match`` on Windows). Model weights are not kept here:
they live in the Hugging Face cache (``HF_HOME``), shared with other tools.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_home() -> Path:
    """The project's per-user data folder (not created here)."""
    override = os.environ.get("SD4MATCH_HOME")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "sd4match"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "sd4match"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "sd4match"


def prompt_library_home() -> Path:
    """Default prompt library: ``sd4match prompts import`` unpacks the released prompts here."""
    return data_home() / "prompts"
