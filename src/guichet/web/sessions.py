"""Who a session cookie belongs to: the database lookup, and a short per-process cache of its answers.

The lookup runs on nearly every request, so it is one query of plain columns (a row per role) on a
connection in autocommit mode on PostgreSQL (no BEGIN and no ROLLBACK round trips around it).

The cache keeps an answer for ``web_session_cache_seconds`` (1 s by default; 0 turns it off). Measured
by ``benchmarks/web.py``: without it every page costs a thread hop and a database round trip before any
work. Its limits, which docs/web.md states:

- every request that may change state (POST, PUT, PATCH, DELETE) answered by a worker empties that
  worker's cache before its response leaves, so a sign-out, a password change or an account disabled
  through the portal takes effect at once on that worker;
- another worker process, or the CLI, is not told: it may honour a revoked session, or an account's old
  roles or language, for at most the cache's lifetime;
- the absolute expiry of a session is checked on every request, cache or not; failed lookups are never
  cached (a cookie must carry the hub's signature to reach the database at all).

All access happens on the event loop's thread (lookups run in a worker thread, but their answers are
stored back on the loop), so the cache needs no lock. A lookup that started before an invalidation is
neither stored (``generation``) nor shared with requests that arrive after it (``inflight`` is emptied),
so an answer read before a sign-out committed cannot outlive it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from guichet.accounts.auth import aware
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.store.models import Organisation, User, UserRole
from guichet.web.tables import WebSession

MAX_ENTRIES = 10_000  # open sessions remembered per process; beyond, the cache starts afresh


@dataclass(frozen=True)
class SessionUser:
    actor: Actor
    locale: str | None
    display_name: str | None
    expires_at: datetime  # the session's absolute end, checked on every request


def lookup_session(hub: Hub, sid: str, now: datetime) -> SessionUser | None:
    """The account behind a session (by its stored id), if the session is open and the account enabled."""
    stmt = (
        select(User.id, User.username, User.disabled, User.locale, User.display_name, Organisation.name,
               WebSession.revoked_at, WebSession.expires_at, UserRole.role)
        .select_from(WebSession)
        .join(User, User.id == WebSession.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(WebSession.id == sid)
    )
    with hub.store.engine.connect() as conn:
        if not hub.store.is_sqlite:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = conn.execute(stmt).all()
    if not rows:
        return None
    user_id, username, disabled, locale, display, org, revoked, expires, _ = rows[0]
    if revoked is not None or aware(expires) <= now or disabled:
        return None
    actor = Actor(username=username, roles=frozenset(r.role for r in rows if r.role), user_id=user_id, org=org,
                  channel="web", strong_auth=True)
    return SessionUser(actor, locale, display, aware(expires))


class SessionCache:
    """Answers of ``lookup_session`` kept ``ttl`` seconds in this process (see the module's docstring)."""

    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[str, tuple[float, SessionUser]] = {}
        # Lookups under way, by session id, that concurrent requests of the same session wait for.
        self.inflight: dict[str, asyncio.Future[SessionUser | None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sid: str, now: datetime) -> SessionUser | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        until, user = entry
        if time.monotonic() >= until or user.expires_at <= now:
            self._entries.pop(sid, None)
            return None
        return user

    def put(self, sid: str, user: SessionUser, generation: int) -> None:
        """Remember an answer read while the cache was at ``generation`` (dropped if invalidated since)."""
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[sid] = (time.monotonic() + self.ttl, user)

    def invalidate(self) -> None:
        """Forget every answer: something may have changed sessions or accounts."""
        self.generation += 1
        self._entries.clear()
        self.inflight.clear()  # a lookup that began before the change is not shared with later requests
