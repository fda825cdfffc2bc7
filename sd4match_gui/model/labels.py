"""Which keypoint name the next click on a source (template) image takes (Qt-free).

A :class:`Labelling` holds the keypoint schema in use (None: plain numbered points, as before
names existed) and the *active* name. A click on the source places the active name; then the
active name advances to the next name that is neither placed nor marked "not visible" on that
image (auto-advance), so labelling a template is one click per keypoint in schema order. Any name
can be made active (Keypoints dock: click or number key) to place it out of order or to move it.
"""

from __future__ import annotations

from collections.abc import Collection as Names

from engine.collections.schema import KeypointSchema

from .events import Event


class Labelling:
    """The schema of the labels dock and its active name.

    Attributes:
        schema: the keypoint names, or None (points are numbered, unnamed).
        active: the name the next source click takes, or None (every name placed or not visible).
        changed: emitted with no arguments after the schema or the active name changed.
    """

    def __init__(self, schema: KeypointSchema | None = None) -> None:
        self.schema = schema
        self.active: str | None = schema.keypoints[0] if schema is not None else None
        self.changed = Event()

    def set_schema(self, schema: KeypointSchema | None, placed: Names[str] = (), hidden: Names[str] = ()) -> None:
        """Use ``schema``; the active name becomes its first free one."""
        self.schema = schema
        self.active = None
        self.advance(placed, hidden, restart=True)

    def choose(self, name: str) -> None:
        """Make ``name`` active (it must be a name of the schema)."""
        if self.schema is None or name not in self.schema.keypoints:
            raise ValueError(f"'{name}' is not a keypoint of the schema")
        if name != self.active:
            self.active = name
            self.changed.emit()

    def choose_number(self, number: int) -> bool:
        """Make the ``number``-th name (1-based) active; False when there is no such name."""
        if self.schema is None or not 1 <= number <= len(self.schema.keypoints):
            return False
        self.choose(self.schema.keypoints[number - 1])
        return True

    def advance(self, placed: Names[str], hidden: Names[str], restart: bool = False) -> None:
        """Move the active name to the next free one after it (from the first when ``restart``),
        wrapping around; None when every name is placed or not visible."""
        if self.schema is None:
            return
        names = self.schema.keypoints
        start = 0 if restart or self.active not in names else names.index(self.active) + 1
        order = names[start:] + names[:start]
        following = next((name for name in order if name not in placed and name not in hidden), None)
        if following != self.active or restart:
            self.active = following
            self.changed.emit()

    def free(self, placed: Names[str], hidden: Names[str]) -> list[str]:
        """The names still to place, in schema order."""
        if self.schema is None:
            return []
        return [name for name in self.schema.keypoints if name not in placed and name not in hidden]
