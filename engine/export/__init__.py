"""Correspondence files: the project's JSON schema and converters to other tools' formats."""

from .document import (
    SCHEMA,
    SCHEMA_VERSION,
    CorrespondenceDocument,
    ImageRef,
    Keypoint,
    PairRecord,
    Prediction,
    Run,
)

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "CorrespondenceDocument",
    "ImageRef",
    "Keypoint",
    "PairRecord",
    "Prediction",
    "Run",
]
