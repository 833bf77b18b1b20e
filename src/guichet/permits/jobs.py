"""The scheduler's framework: jobs registered by name, run in order for one day by ``guichet jobs run``.

A job receives a ``JobContext`` (a write session of its own, the hub, the day and the moment it runs for)
and answers what it changed. Every job is idempotent: it acts on a state that its action removes (an
expired permit is no longer active) and tells people through the outbox under a key that names the fact,
so running the scheduler twice for the same day has the effect of running it once. Later packages add
their jobs with ``@job``; ``notifications.deliver`` always runs last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.hub import Hub


@dataclass
class JobContext:
    hub: Hub
    actor: Actor
    session: Session
    today: date
    now: datetime


JobFn = Callable[[JobContext], list[str]]  # the items it changed (labels, never an identifier's value)


@dataclass(frozen=True)
class Job:
    name: str
    summary: str
    run: JobFn
    order: int
    own_transactions: bool = False  # the job opens its own transactions (it calls other services)


JOBS: dict[str, Job] = {}


def job(name: str, summary: str, *, order: int = 50, own_transactions: bool = False) -> Callable[[JobFn], JobFn]:
    """Register a job of the scheduler (lower ``order`` runs first)."""

    def register(fn: JobFn) -> JobFn:
        if name in JOBS and JOBS[name].run.__qualname__ != fn.__qualname__:
            raise RuntimeError(f"two jobs named {name!r}")
        JOBS[name] = Job(name, summary, fn, order, own_transactions)
        return fn

    return register


def ordered() -> list[Job]:
    return sorted(JOBS.values(), key=lambda j: (j.order, j.name))
