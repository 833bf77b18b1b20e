"""The per-process cache of session lookups: lifetime, absolute expiry, invalidation, stale lookups."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from guichet.governance import Actor
from guichet.web.sessions import SessionCache, SessionUser

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _user(expires: datetime = NOW + timedelta(hours=1)) -> SessionUser:
    return SessionUser(Actor("rita", frozenset({"researcher"}), channel="web", strong_auth=True), "fr", None, expires)


def test_an_answer_is_kept_for_the_lifetime_then_forgotten() -> None:
    cache = SessionCache(ttl=0.05)
    cache.put("s1", _user(), cache.generation)
    assert cache.get("s1", NOW) is not None
    time.sleep(0.06)
    assert cache.get("s1", NOW) is None and len(cache) == 0


def test_the_absolute_expiry_is_checked_even_when_cached() -> None:
    cache = SessionCache(ttl=60)
    cache.put("s1", _user(expires=NOW + timedelta(seconds=1)), cache.generation)
    assert cache.get("s1", NOW) is not None
    assert cache.get("s1", NOW + timedelta(seconds=1)) is None


def test_invalidation_forgets_everything_and_refuses_lookups_begun_before_it() -> None:
    cache = SessionCache(ttl=60)
    cache.put("s1", _user(), cache.generation)
    started = cache.generation  # a lookup begins...
    cache.invalidate()  # ...a sign-out commits meanwhile...
    cache.put("s2", _user(), started)  # ...and the lookup's answer arrives: not kept
    assert cache.get("s1", NOW) is None and cache.get("s2", NOW) is None
    cache.put("s2", _user(), cache.generation)
    assert cache.get("s2", NOW) is not None


def test_a_zero_lifetime_turns_the_cache_off_and_the_size_is_bounded() -> None:
    off = SessionCache(ttl=0)
    off.put("s1", _user(), off.generation)
    assert off.get("s1", NOW) is None
    small = SessionCache(ttl=60, max_entries=3)
    for i in range(10):
        small.put(f"s{i}", _user(), small.generation)
    assert len(small) <= 3 and small.get("s9", NOW) is not None
