"""A small thread-safe LRU map for batch lookups, optionally tied to a generation (e.g. a
store revision): asking under another generation empties it first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._generation: object = None
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Iterable[K], generation: object = None) -> dict[K, V]:
        """The cached values among ``keys`` (marked recently used)."""
        found: dict[K, V] = {}
        with self._lock:
            if generation != self._generation:
                self._items.clear()
                self._generation = generation
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
                    self.hits += 1
                else:
                    self.misses += 1
        return found

    def put_many(self, items: Mapping[K, V]) -> None:
        with self._lock:
            for key, value in items.items():
                self._items[key] = value
                self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
