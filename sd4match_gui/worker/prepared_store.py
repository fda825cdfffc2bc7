"""The prepared pairs on screen, shared by the engine thread (which prepares them) and the query lane
(which answers clicks and hovers from them).

A :class:`~engine.prepared_pair.PreparedPair` is immutable once prepared: ``match`` and
``score_maps`` read its feature tensors and allocate their own results. The one lazily filled value
is each map's L2-normalised copy (``FeatureMap.normalised``, a ``cached_property``); two threads
filling it at once each compute the same bits (on one thread each, see ``torch_threads.py``) and
one of them is kept. So a pair can be queried on the lane while the engine extracts other features.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from engine.variants import Variant

from .messages import ComputeRequest, EngineConfig

if TYPE_CHECKING:
    from engine.prepared_pair import PreparedPair

PreparedKey = tuple[str, str, object, object]  # source digest, target digest, prompt, feature settings


def prepared_key(source_digest: str, target_digest: str, variant: Variant) -> PreparedKey:
    return (source_digest, target_digest, variant.prompt, variant.settings)


class PreparedStore:
    """Thread-safe map of prepared pairs, all from the models of one :class:`EngineConfig`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[PreparedKey, PreparedPair] = {}
        self._models: EngineConfig | None = None

    def reset(self, models: EngineConfig) -> None:
        """New models were built: the pairs of the old ones are dropped."""
        with self._lock:
            self._pairs.clear()
            self._models = models

    def put(self, key: PreparedKey, pair: PreparedPair) -> None:
        with self._lock:
            self._pairs[key] = pair

    def keep_only(self, keys: set[PreparedKey]) -> None:
        """Drop the pairs no longer on screen (only what is shown is held)."""
        with self._lock:
            self._pairs = {key: pair for key, pair in self._pairs.items() if key in keys}

    def get(self, key: PreparedKey, models: EngineConfig) -> PreparedPair | None:
        """The pair prepared under ``key`` by ``models``, if any."""
        with self._lock:
            if self._models is None or not self._models.same_models(models):
                return None
            return self._pairs.get(key)

    def pairs_for(self, request: ComputeRequest) -> list[PreparedPair] | None:
        """The prepared pair of every variant of ``request`` in its order, or None if one needs the
        engine: not prepared, prepared by other models, or an "auto" backend that fell back to SIFT
        (the engine decides that again: the weights may have appeared, or the request refuses it)."""
        source, target = request.source.digest, request.target.digest
        with self._lock:
            if self._models is None or not self._models.same_models(request.engine):
                return None
            pairs = [self._pairs.get(prepared_key(source, target, variant)) for variant in request.variants]
        if any(pair is None for pair in pairs):
            return None
        for variant, pair in zip(request.variants, pairs, strict=True):
            assert pair is not None
            if variant.settings.backend == "auto" and pair.run.get("backend") != "sd":
                return None
        return pairs  # type: ignore[return-value]
