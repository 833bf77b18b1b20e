"""The scheduler's jobs of the permits package (see ``guichet.permits.jobs``). Each is idempotent."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from sqlalchemy import func, select

from guichet.custodian import services as custodian
from guichet.errors import GuichetError, NotFound
from guichet.permits import outbox
from guichet.permits.dates import day_after, end_dates, shred_grace_days
from guichet.permits.jobs import JobContext, job
from guichet.permits.model import project_name
from guichet.permits.state import appeal_holds_keys
from guichet.permits.tables import Attestation, Permit

WARN_DAYS = 30
CHECKPOINT_DAY_FILE = "checkpoint-day.txt"


def load() -> None:
    """Importing this module registered its jobs; the application jobs are registered by importing theirs."""
    import_module("guichet.permits.application_jobs")


def _named(permit: Permit) -> list[str]:
    return [str(p.get("name")) for p in permit.document.get("people", []) if isinstance(p, dict)]


@job("attestations.expiring", "tell people whose training attestation ends within 30 days, or ended while "
     "they are named on an active permit (their access is suspended)", order=20)
def attestations_expiring(ctx: JobContext) -> list[str]:
    s, today = ctx.session, ctx.today
    latest = s.execute(select(Attestation.username, func.max(Attestation.valid_until))
                       .group_by(Attestation.username)).all()
    named = {n for p in s.execute(select(Permit).where(Permit.state == "active")).scalars() for n in _named(p)}
    items: list[str] = []
    for username, until in latest:
        if today <= until <= today + timedelta(days=WARN_DAYS):
            if outbox.queue(s, dedupe=f"attestation-expiring:{username}:{until.isoformat()}", recipient=username,
                            subject="Your training attestation ends soon",
                            body=f"Your training attestation is valid until {until:%Y-%m-%d}. Renew it to keep "
                                 "your access to the projects you are named on.", now=ctx.now):
                items.append(f"user:{username}")
        elif until < today and username in named:
            if outbox.queue(s, dedupe=f"attestation-expired:{username}:{until.isoformat()}", recipient=username,
                            subject="Your access is suspended: training attestation expired",
                            body=f"Your training attestation ended on {until:%Y-%m-%d}. Your access to the data "
                                 "of your permits is suspended until it is renewed; the others' is not.", now=ctx.now):
                items.append(f"user:{username}")
    return items


@job("permits.expire", "expire permits whose validity ended: close their access, set results and deletion "
     "due dates, tell the holder", order=30)
def expire_permits(ctx: JobContext) -> list[str]:
    s = ctx.session
    items: list[str] = []
    for permit in s.execute(select(Permit).where(Permit.state == "active", Permit.valid_until < ctx.today)
                            .order_by(Permit.id)).scalars():
        ended = day_after(permit.valid_until)
        permit.state, permit.ended_at = "expired", ended
        permit.results_due, permit.delete_by = end_dates(ended)
        outbox.queue(s, dedupe=f"permit-expired:{permit.id}", recipient=permit.owner,
                     subject=f"Permit {permit.id} has expired",
                     body=f"Permit {permit.id} ended on {permit.valid_until:%Y-%m-%d}; access to its data is closed. "
                          f"Results are due by {permit.results_due:%Y-%m-%d}; the data is deleted by "
                          f"{permit.delete_by:%Y-%m-%d}.", now=ctx.now)
        items.append(f"permit:{permit.id}")
    s.flush()
    return items


@job("permits.results_overdue", "flag permits whose results are overdue (18 months after the end)", order=40)
def results_overdue(ctx: JobContext) -> list[str]:
    s = ctx.session
    items: list[str] = []
    for permit in s.execute(select(Permit).where(Permit.results_due.is_not(None), Permit.results_due < ctx.today)
                            .order_by(Permit.id)).scalars():
        if outbox.queue(s, dedupe=f"permit-results-overdue:{permit.id}", recipient=permit.owner,
                        subject=f"Permit {permit.id}: results overdue",
                        body=f"The results of permit {permit.id} were due by {permit.results_due:%Y-%m-%d}.",
                        now=ctx.now):
            items.append(f"permit:{permit.id}")
    return items


@job("permits.shred", "ask the custodian to shred the keys of projects whose grace period after the end "
     "is over (key_shred_grace_days, default 30, at most 6 months), unless an appeal is pending",
     order=60, own_transactions=True)
def shred_keys(ctx: JobContext) -> list[str]:
    hub = ctx.hub
    grace = shred_grace_days(hub.config.properties)
    with hub.store.read() as s:
        due = [p.id for p in s.execute(select(Permit).where(Permit.state.in_(("expired", "revoked")),
                                                            Permit.ended_at.is_not(None),
                                                            Permit.ended_at <= ctx.today - timedelta(days=grace),
                                                            Permit.keys_shredded_at.is_(None))
                                       .order_by(Permit.id)).scalars()
               if not appeal_holds_keys(s, p.id)]
    items: list[str] = []
    for pid in due:
        try:
            custodian.shred_project(hub, ctx.actor, project=project_name(pid))
        except NotFound:
            pass  # no extract was ever made for it: no key to destroy, nothing readable is left
        except GuichetError:
            continue  # the custodian could not do it now (audited): the next run asks again
        with hub.store.write() as s:
            permit = s.get(Permit, pid)
            if permit is not None:
                permit.keys_shredded_at = ctx.now
        items.append(f"permit:{pid}")
    return items


@job("audit.checkpoint", "have the custodian sign a checkpoint of the audit chain's head, publish it, and prune "
     "the access log past its retention (docs/audit.md)", order=90, own_transactions=True)
def audit_checkpoint(ctx: JobContext) -> list[str]:
    from guichet.custodian.audit_trail import daily_checkpoint

    marker = ctx.hub.audit_dir / CHECKPOINT_DAY_FILE  # the last day the job signed for
    done = marker.read_text(encoding="utf-8").strip() if marker.exists() else ""
    if done >= ctx.today.isoformat():
        return []  # once a day
    try:
        signed = daily_checkpoint(ctx.hub, ctx.actor)
    except GuichetError:
        return []  # refused or the custodian unreachable (audited): the next run tries again
    marker.write_text(ctx.today.isoformat() + "\n", encoding="utf-8")
    return [f"audit:{signed.seq}"]


@job("notifications.deliver", "deliver the outbox: files under the hub home, or SMTP when configured", order=99)
def deliver(ctx: JobContext) -> list[str]:
    counts = outbox.deliver_pending(ctx.session, ctx.hub.config, ctx.now)
    return [f"notifications:{counts['delivered']}"] if counts["delivered"] else []
