"""A per-worker cache of what the catalogue's public pages and API show, keyed by the hub's revision.

The product page made ~15 queries a request and ``/api/search`` one full-text query: under
``benchmarks/web.py`` (2 workers, 50 connections) they missed the web targets. What they show does not
depend on who asks (``catalogue.show``, ``catalogue.list`` and ``catalogue.search`` are public reads; no
part of their answer is restricted to some viewers), only on the state of the hub. So each worker process
keeps the *view-models* — product, characterisation, quality labels, version notes, search hits, the
product list — never the rendered page: the page (language, menu, CSRF token, the viewer's name) is still
rendered for each request, and every request still passes the route's guard and ``authorize``.

**The revision.** Every state change of the hub goes through a ``@service``, which writes an audit event in
the same transaction (deposits, quality, retractions, characterisation, catalogue edits, configuration...):
the audit chain's head (``audit_head.seq``) therefore moves whenever anything the catalogue shows may have
changed. Entries are kept under the revision they were computed at, and all are dropped when it moves. The
revision is read before the data, so an entry is never older than its revision.

**Staleness bound.** A worker reads the revision at most once every ``web_catalogue_cache_seconds``
(1 s by default; concurrent requests share one read), so:

- on the same worker, a change made through the portal shows at once: every state-changing request (POST,
  PUT, PATCH, DELETE) makes the worker read the revision again before its next catalogue answer;
- a change made on another worker, or by the CLI, shows within ``web_catalogue_cache_seconds``;
- ``0`` turns the cache off: every request reads the database, as before.

All access happens on the event loop's thread (computations run in a worker thread, their results are
stored back on the loop), so no lock is needed; a revision read that began before an invalidation is not
trusted afterwards (``generation``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from guichet.hub import Hub
from guichet.store.models import AuditHead

T = TypeVar("T")
MAX_ENTRIES = 512  # view-models kept per worker (products x kinds, distinct searches); least recently used go


def read_revision(hub: Hub) -> int:
    """The audit chain's head: it moves with every state change of the hub (one indexed row)."""
    with hub.store.engine.connect() as conn:
        if not hub.store.is_sqlite:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        seq = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar()
    return int(seq or 0)


class CatalogueCache:
    """View-models of the catalogue kept while the hub's revision stays the same (see the module)."""

    def __init__(self, hub: Hub, check_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.hub = hub
        self.check_seconds = check_seconds
        self.max_entries = max_entries
        self.revision: int | None = None
        self.checked_until = 0.0  # monotonic time until which ``revision`` is trusted
        self.generation = 0
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._reading: asyncio.Future[int] | None = None
        self._computing: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.check_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self) -> None:
        """Something may have changed (a state-changing request on this worker): read the revision again."""
        self.generation += 1
        self.checked_until = 0.0
        self._reading = None

    async def current_revision(self) -> int:
        if self.revision is not None and time.monotonic() < self.checked_until:
            return self.revision
        reading = self._reading
        if reading is None:
            generation = self.generation

            async def read() -> int:
                revision = await run_in_threadpool(read_revision, self.hub)
                if generation == self.generation:
                    if revision != self.revision:
                        self._entries.clear()
                    self.revision = revision
                    self.checked_until = time.monotonic() + self.check_seconds
                return revision

            reading = asyncio.ensure_future(read())
            self._reading = reading
            reading.add_done_callback(lambda done: setattr(self, "_reading", None) if self._reading is done else None)
        return await asyncio.shield(reading)

    async def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The entry for ``key`` at the current revision, computed in a worker thread when missing."""
        if not self.enabled:
            return await run_in_threadpool(compute)
        revision = await self.current_revision()
        found = self._entries.get(key)
        if found is not None and found[0] == revision:
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]
        self.misses += 1
        pending = self._computing.get((revision, key))
        if pending is None:  # concurrent misses of one entry share one computation

            async def run() -> Any:
                value = await run_in_threadpool(compute)  # reads the data after the revision: never older
                if revision == self.revision:
                    self._entries[key] = (revision, value)
                    self._entries.move_to_end(key)
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
                return value

            pending = asyncio.ensure_future(run())
            self._computing[(revision, key)] = pending
            pending.add_done_callback(lambda _done: self._computing.pop((revision, key), None))
        return await asyncio.shield(pending)
