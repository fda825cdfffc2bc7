"""Run records: which exact model, prompt and settings produced a prediction.

A run is identified by its details (the dict ``engine.export.from_matches.run_details`` builds);
the same details always get the same id within a session, so predictions made at different times
with the same settings share one ``runs[]`` entry in exports.
"""

from __future__ import annotations

import json
from typing import Any


class RunRegistry:
    """Assigns ``r1``, ``r2``, ... to distinct run details, in order of first use."""

    def __init__(self) -> None:
        self._by_key: dict[str, str] = {}
        self._details: dict[str, dict[str, Any]] = {}

    def register(self, details: dict[str, Any]) -> str:
        key = json.dumps(details, sort_keys=True, default=str)
        if key not in self._by_key:
            number = len(self._details) + 1
            while f"r{number}" in self._details:  # ids restored from a file need not be dense
                number += 1
            run_id = f"r{number}"
            self._by_key[key] = run_id
            self._details[run_id] = details
        return self._by_key[key]

    def restore(self, run_id: str, details: dict[str, Any]) -> None:
        """Re-register a run read from a file under its stored id."""
        self._by_key[json.dumps(details, sort_keys=True, default=str)] = run_id
        self._details[run_id] = details

    def details(self, run_id: str) -> dict[str, Any]:
        return self._details[run_id]

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self._details.items())

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._details
