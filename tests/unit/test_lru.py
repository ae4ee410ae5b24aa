"""LRU: batch lookups, eviction order, generations."""

from __future__ import annotations

from qa.lru import LRU


def test_least_recently_used_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put_many({"a": 1, "b": 2})
    assert cache.get_many(["a", "z"]) == {"a": 1}  # "a" is now the most recent
    cache.put_many({"c": 3})
    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "c": 3}
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 2)


def test_another_generation_starts_empty() -> None:
    cache: LRU[str, int] = LRU(8)
    assert cache.get_many(["a"], generation="r1") == {}
    cache.put_many({"a": 1})
    assert cache.get_many(["a"], generation="r1") == {"a": 1}
    assert cache.get_many(["a"], generation="r2") == {}
    assert len(cache) == 0
