"""A small LRU cache bounded by bytes, with hit and miss counters that tests can read."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # only annotations: the disk cache's command line imports this module without torch
    import torch

V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


def fields_key(settings: Any) -> tuple[Hashable, ...]:
    """A cache key made of every field of a frozen dataclass, by name and value.

    Derived from ``dataclasses.fields`` rather than listed by hand, so a field added to the
    settings later is part of the key at once and can never serve values computed under other
    settings. Nested settings (frozen dataclasses themselves) are hashable as they are.
    """
    return (type(settings).__qualname__, *((f.name, getattr(settings, f.name)) for f in dataclasses.fields(settings)))


def tensor_bytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


class LRUCache(Generic[V]):
    """Least-recently-used cache that evicts once the summed ``size_of`` exceeds ``max_bytes``.

    Args:
        max_bytes: budget; an item larger than the whole budget is returned but not kept.
        size_of: bytes of one value.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> V | None:
        """The cached value for ``key`` (counted as a hit, and made the most recent), or None (a miss)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.stats.hits += 1
                return self._items[key][0]
            self.stats.misses += 1
            return None

    def get_or_create(self, key: Hashable, create: Callable[[], V]) -> V:
        """The cached value for ``key``, computing and storing it on a miss."""
        value = self.get(key)
        if value is None:
            value = create()
            self.put(key, value)
        return value

    def put(self, key: Hashable, value: V) -> None:
        size = self._size_of(value)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
