"""Permit services: accreditation, fee estimates, the scheduler; permits themselves (issue, amend, extend,
revoke). Each changes state through ``@service`` (permission checked, audit written)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.accounts.auth import get_user
from guichet.errors import BadInput, Refused
from guichet.governance import Resource, Unit, query, service
from guichet.permits import scheduled
from guichet.permits.dates import shred_grace_days
from guichet.permits.jobs import JobContext, ordered
from guichet.permits.model import AttestationInfo, JobResult, RunReport
from guichet.permits.tables import Attestation, JobRun

MAX_ATTESTATION_YEARS = 5


def _now() -> datetime:
    return datetime.now(UTC)


def _user_resource(_session: Session, username: str, **_: object) -> Resource:
    return Resource("user", username, owner=username)


@service("user.attest", resource=_user_resource)
def attest_user(unit: Unit, username: str, until: date, note: str | None = None) -> AttestationInfo:
    """Record a training attestation valid until ``until`` (its last day included)."""
    get_user(unit.session, username)  # the account must exist
    today = _now().date()
    if until < today:
        raise BadInput(f"--until {until:%Y-%m-%d}: an attestation cannot end in the past")
    if until.year - today.year > MAX_ATTESTATION_YEARS:
        raise BadInput(f"--until {until:%Y-%m-%d}: an attestation lasts at most {MAX_ATTESTATION_YEARS} years")
    row = Attestation(username=username, valid_until=until, note=note, attested_by=unit.actor.username,
                      created_at=_now())
    unit.session.add(row)
    unit.session.flush()
    unit.note(obj=f"user:{username}", valid_until=until.isoformat())
    return AttestationInfo(username, until, unit.actor.username, note)


@query("user.attestations", resource=_user_resource)
def attestations(unit: Unit, username: str) -> list[AttestationInfo]:
    get_user(unit.session, username)
    rows = unit.session.execute(select(Attestation).where(Attestation.username == username)
                                .order_by(Attestation.valid_until, Attestation.id)).scalars()
    return [AttestationInfo(r.username, r.valid_until, r.attested_by, r.note) for r in rows]


@service("jobs.run", transactional=False)
def run_jobs(unit: Unit, today: date | None = None, only: tuple[str, ...] = ()) -> RunReport:
    """Run the scheduler's jobs for one day (default: today, UTC). ``today`` in development mode only.
    Idempotent: a second run for the same day changes nothing the first did not."""
    scheduled.load()
    hub = unit.hub
    shred_grace_days(hub.config.properties)  # a grace period above six months is refused before any job runs
    if today is not None and not hub.development:
        raise Refused("--now: only a development hub runs the scheduler for another day")
    real = _now()
    day = today or real.date()
    now = real if day == real.date() else datetime.combine(day, time(12), UTC)
    jobs = ordered()
    unknown = sorted(set(only) - {j.name for j in jobs})
    if unknown:
        raise BadInput(f"--job {unknown[0]}: no such job (jobs: {', '.join(j.name for j in jobs)})")
    results: list[JobResult] = []
    for job in jobs:
        if only and job.name not in only:
            continue
        if job.own_transactions:
            items = job.run(JobContext(hub, unit.actor, unit.session, day, now))
        else:
            with hub.store.write() as session:
                items = job.run(JobContext(hub, unit.actor, session, day, now))
        results.append(JobResult(job.name, len(items), tuple(items)))
    report = RunReport(day, tuple(results))
    with hub.store.write() as session:
        session.add(JobRun(today=day, actor=unit.actor.username, started_at=real,
                           results={r.name: r.changed for r in results}))
    unit.note(obj=f"jobs:{day.isoformat()}", today=day.isoformat(), simulated=today is not None,
              changed={r.name: r.changed for r in results})
    return report


@query("jobs.list")
def list_jobs(unit: Unit) -> dict[str, list[dict[str, Any]]]:
    scheduled.load()
    last = unit.session.execute(select(JobRun).order_by(JobRun.id.desc()).limit(10)).scalars().all()
    return {"jobs": [{"job": j.name, "summary": j.summary} for j in ordered()],
            "runs": [{"today": r.today.isoformat(), "actor": r.actor, "started_at": r.started_at.isoformat(),
                      "changed": r.results} for r in last]}
