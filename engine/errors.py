"""Errors the engine raises on purpose: each carries a one-line message written for the user.

Anything else escaping the engine is a bug; the command line prints these without a traceback
and the app shows them in a message bar.
"""


class EngineError(Exception):
    """Base class: the message names the file or value at fault and, where possible, the fix."""


class ImageError(EngineError):
    """An image could not be read or is not usable (corrupt, empty, too large, odd format)."""


class PointError(EngineError):
    """A query point is not finite or lies outside its image."""


class WeightsNotFoundError(EngineError):
    """Model weights are missing or incomplete; the message says what was tried and how to get them."""


class PromptError(EngineError):
    """A prompt cannot be built: unknown category, missing or mismatched prompt file, missing model."""


class SettingsError(EngineError):
    """A setting is out of range or incompatible with the loaded model."""


class Cancelled(EngineError):
    """The caller asked to stop; raised between stages, never in the middle of a forward pass."""


class DocumentError(EngineError):
    """A correspondence file (export, session, dataset annotation) is malformed or of an unknown version."""


class NumericError(EngineError):
    """A computation produced NaN or infinity (broken weights, a diverging run); nothing of it is written."""


class OutputError(EngineError, OSError):
    """An output path cannot take a file: a folder, a block device or socket, a read-only place, or a missing
    folder that cannot be made. An ``OSError`` too, so code that reports failed writes reports this one alike."""
