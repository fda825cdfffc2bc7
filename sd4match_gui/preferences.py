"""App preferences persisted with QSettings: model locations, device, precision, last settings.

Annotations never go here (they live in session files). The value, :class:`AppPreferences`, is
Qt-free (``model/preferences.py``, part of the app model); :class:`PreferenceStore` reads and
writes it. Tests pass their own ``QSettings`` (an INI file in a
temporary folder) so they never touch the user's.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from engine.collections.schema import KeypointSchema
from engine.errors import EngineError

from .model.preferences import AppPreferences
from .model.session_fields import read_settings

ORGANISATION = "sd4match"
APPLICATION = "sd4match-gui"


def _non_negative_int(value: Any, default: int) -> int:
    """A stored count read back (QSettings INI files give strings), ``default`` if unreadable."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 0 else default


def _folders(value: Any) -> dict[str, str]:
    """Stored folders per kind of file read back; {} if unreadable (the dialogs then start where
    the last one did)."""
    try:
        folders = json.loads(str(value))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(folders, dict):
        return {}
    return {str(kind): folder for kind, folder in folders.items() if isinstance(folder, str)}


def _schema_choice(value: Any) -> dict[str, Any]:
    """The stored Keypoints dock choice read back as ``schema_choice`` and ``schema``; none (numbered
    points) if unreadable."""
    try:
        data = json.loads(str(value))
        schema = KeypointSchema.from_dict(data["schema"]) if data.get("schema") is not None else None
        choice = str(data.get("choice", "none"))
    except (ValueError, RecursionError, TypeError, AttributeError, KeyError, EngineError):
        return {}
    return {"schema_choice": choice if schema is not None else "none", "schema": schema}


class PreferenceStore:
    """Reads and writes :class:`AppPreferences` and the window layout."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
        )

    def load(self) -> AppPreferences:
        defaults = AppPreferences()
        value = self.qsettings.value
        try:
            settings = read_settings(json.loads(str(value("session/settings", "{}"))), "session/settings")
        except (ValueError, RecursionError, EngineError):  # unreadable or outdated: start from defaults
            settings = defaults.settings
        prompts = str(value("models/prompts", "") or "")
        return AppPreferences(
            sd=str(value("models/sd", defaults.sd)),
            dinov2=str(value("models/dinov2", defaults.dinov2)),
            prompts=prompts or None,
            device=str(value("runtime/device", defaults.device)),
            dtype=str(value("runtime/dtype", defaults.dtype)),
            autosave=str(value("files/autosave", "true")).lower() == "true",
            settings=settings,
            last_folder=str(value("files/last_folder", "")),
            folders=_folders(value("files/folders", "{}")),
            least_confident_first=str(value("review/least_confident_first", "false")).lower() == "true",
            **_schema_choice(value("labels/schema", "")),
            cache_bytes=_non_negative_int(value("cache/bytes", defaults.cache_bytes), defaults.cache_bytes),
        )

    def save(self, preferences: AppPreferences) -> None:
        set_value = self.qsettings.setValue
        set_value("models/sd", preferences.sd)
        set_value("models/dinov2", preferences.dinov2)
        set_value("models/prompts", preferences.prompts or "")
        set_value("runtime/device", preferences.device)
        set_value("runtime/dtype", preferences.dtype)
        set_value("files/autosave", "true" if preferences.autosave else "false")
        set_value("files/last_folder", preferences.last_folder)
        set_value("files/folders", json.dumps(preferences.folders))
        set_value("review/least_confident_first", "true" if preferences.least_confident_first else "false")
        schema = preferences.schema.to_dict() if preferences.schema is not None else None
        set_value("labels/schema", json.dumps({"choice": preferences.schema_choice, "schema": schema}))
        set_value("cache/bytes", str(preferences.cache_bytes))
        set_value("session/settings", json.dumps(preferences.settings.to_dict()))
        self.qsettings.sync()

    def save_window(self, window: QMainWindow) -> None:
        self.qsettings.setValue("window/geometry", window.saveGeometry())
        self.qsettings.setValue("window/state", window.saveState())
        self.qsettings.sync()

    def restore_window(self, window: QMainWindow) -> None:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            window.restoreState(state)
