"""Per-user choices that outlive sessions, as a Qt-free value (part of the app model).

:class:`~sd4match_gui.preferences.PreferenceStore` (Qt: ``QSettings``) reads and writes it; the
model holds the current one (``AppModel.preferences``) and announces a change as
``preferences_changed``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from engine import ModelSources
from engine.collections.schema import KeypointSchema
from engine.disk_cache import DEFAULT_DISK_CACHE_BYTES
from engine.settings import DEFAULT_DINOV2_MODEL, DEFAULT_SD_MODEL

from ..worker.messages import EngineConfig  # a Qt-free value (the worker's request types)
from .settings import SessionSettings


@dataclass(frozen=True)
class AppPreferences:
    """Per-user choices that outlive sessions.

    Attributes:
        sd, dinov2, prompts: model sources (hub id or folder; prompts None = the prompt library).
        device, dtype: runtime words (see ``engine.runtime``).
        autosave: write every action to the session file.
        settings: the settings new sessions start with (the last ones used).
        last_folder: the folder the last file dialog used (where a dialog of a kind not used yet opens).
        folders: kind of file (see ``sd4match_gui.controller.files.FOLDER_KINDS``) -> the folder its
            dialogs last used, where they open next.
        cache_bytes: bound of the feature cache on disk (shared with the command line).
        least_confident_first: the order of a collection's review queue.
        schema_choice, schema: the Keypoints dock's last choice in pair mode (a key of
            ``views.label_dock.SCHEMA_CHOICES``) and the names it gave (None: numbered points).
    """

    sd: str = DEFAULT_SD_MODEL
    dinov2: str = DEFAULT_DINOV2_MODEL
    prompts: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    autosave: bool = True
    settings: SessionSettings = field(default_factory=SessionSettings)
    last_folder: str = ""
    folders: dict[str, str] = field(default_factory=dict)
    cache_bytes: int = DEFAULT_DISK_CACHE_BYTES
    least_confident_first: bool = False
    schema_choice: str = "none"
    schema: KeypointSchema | None = None

    def replace(self, **changes: Any) -> AppPreferences:
        return dataclasses.replace(self, **changes)

    def engine_config(self) -> EngineConfig:
        return EngineConfig(ModelSources(self.sd, self.dinov2, self.prompts), self.device, self.dtype, self.cache_bytes)
