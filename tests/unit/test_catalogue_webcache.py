"""The catalogue's per-worker cache: entries live while the hub's revision stays the same, concurrent misses
share one computation, an invalidation makes the next request read the revision again."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from guichet.catalogue import webcache
from guichet.catalogue.webcache import CatalogueCache


@pytest.fixture
def revision(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    state = {"seq": 1, "reads": 0}

    def read(_hub: Any) -> int:
        state["reads"] += 1
        return state["seq"]

    monkeypatch.setattr(webcache, "read_revision", read)
    return state


def _counter() -> tuple[dict[str, int], Any]:
    calls = {"n": 0}
    lock = threading.Lock()

    def compute() -> int:
        with lock:
            calls["n"] += 1
            return calls["n"]

    return calls, compute


def test_entries_are_kept_until_the_revision_moves(revision: dict[str, int]) -> None:
    async def scenario() -> None:
        cache = CatalogueCache(hub=None, check_seconds=3600)  # type: ignore[arg-type]
        calls, compute = _counter()
        assert await cache.get("k", compute) == 1
        assert await cache.get("k", compute) == 1 and calls["n"] == 1 and revision["reads"] == 1
        revision["seq"] = 2  # a change elsewhere: not seen until the revision is read again
        assert await cache.get("k", compute) == 1
        cache.invalidate()  # a state-changing request on this worker
        assert await cache.get("k", compute) == 2 and revision["reads"] == 2
        assert await cache.get("k", compute) == 2 and len(cache) == 1

    asyncio.run(scenario())


def test_concurrent_misses_share_one_computation_and_reads(revision: dict[str, int]) -> None:
    async def scenario() -> None:
        cache = CatalogueCache(hub=None, check_seconds=3600)  # type: ignore[arg-type]
        calls, compute = _counter()
        got = await asyncio.gather(*(cache.get("k", compute) for _ in range(20)))
        assert got == [1] * 20 and calls["n"] == 1 and revision["reads"] == 1

    asyncio.run(scenario())


def test_an_expired_check_reads_the_revision_again(revision: dict[str, int]) -> None:
    async def scenario() -> None:
        cache = CatalogueCache(hub=None, check_seconds=3600)  # type: ignore[arg-type]
        _calls, compute = _counter()
        await cache.get("k", compute)
        revision["seq"] = 5
        cache.checked_until = 0.0  # the check interval has passed
        assert await cache.get("k", compute) == 2 and cache.revision == 5

    asyncio.run(scenario())


def test_off_computes_every_time_and_keeps_nothing(revision: dict[str, int]) -> None:
    async def scenario() -> None:
        cache = CatalogueCache(hub=None, check_seconds=0)  # type: ignore[arg-type]
        _calls, compute = _counter()
        assert [await cache.get("k", compute) for _ in range(3)] == [1, 2, 3]
        assert len(cache) == 0 and revision["reads"] == 0

    asyncio.run(scenario())


def test_least_recently_used_entries_go_first(revision: dict[str, int]) -> None:
    async def scenario() -> None:
        cache = CatalogueCache(hub=None, check_seconds=3600, max_entries=2)  # type: ignore[arg-type]
        for key in ("a", "b", "a", "c"):
            await cache.get(key, lambda key=key: key)  # type: ignore[misc]
        assert set(cache._entries) == {"a", "c"}

    asyncio.run(scenario())
