"""The scheduler's jobs about applications (``guichet.access``): lapse those whose applicant did not answer
in time, flag overdue steps, and tell applicants of every change of their application. Idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import select

from guichet.access import services as access
from guichet.access.tables import Application, ApplicationEvent
from guichet.access.workflow import FINAL
from guichet.permits import outbox
from guichet.permits.jobs import JobContext, job


@contextmanager
def _clock_at(day: date) -> Iterator[None]:
    """The access clocks read ``guichet.access.services.today``; a development run for another day (``jobs run
    --now``) moves it for the time of the job only (the command line is one process, one run at a time)."""
    saved = access.today
    access.today = lambda: day
    try:
        yield
    finally:
        access.today = saved


@job("applications.lapse", "lapse applications whose applicant did not complete or revise them in time", order=10,
     own_transactions=True)
def lapse(ctx: JobContext) -> list[str]:
    with _clock_at(ctx.today):
        lapsed = access.lapse(ctx.hub, ctx.actor)
    return [f"application:{i}" for i in lapsed]


@job("applications.overdue", "flag the applications whose running step is past its due date (the operator is told "
     "once per due date; the home page lists them)", order=15)
def overdue(ctx: JobContext) -> list[str]:
    s = ctx.session
    items: list[str] = []
    for app in s.execute(select(Application).where(Application.due.is_not(None), Application.due < ctx.today,
                                                   Application.state.not_in(sorted(FINAL)))
                         .order_by(Application.id)).scalars():
        if outbox.queue(s, dedupe=f"application-overdue:{app.id}:{app.due}",
                        recipient=ctx.hub.config.operator, subject=f"Application {app.id} is overdue",
                        body=f"Application {app.id} ({app.state}) was due on {app.due:%Y-%m-%d}.", now=ctx.now):
            items.append(f"application:{app.id}")
    return items


@job("applications.notify", "tell applicants of every change of their application's state", order=50)
def notify(ctx: JobContext) -> list[str]:
    s = ctx.session
    items: list[str] = []
    rows = s.execute(select(ApplicationEvent, Application.applicant)
                     .join(Application, Application.id == ApplicationEvent.application_id)
                     .order_by(ApplicationEvent.id)).all()
    for event, applicant in rows:
        if event.actor == applicant:
            continue  # they did it themselves
        due = f" Next due date: {event.due:%Y-%m-%d}." if event.due else ""
        why = f" Reason: {event.reason}" if event.reason else ""
        if outbox.queue(s, dedupe=f"application-event:{event.id}", recipient=applicant,
                        subject=f"Application {event.application_id}: {event.to_state.replace('_', ' ')}",
                        body=f"Your application {event.application_id} is now {event.to_state.replace('_', ' ')}."
                             f"{due}{why}", now=ctx.now):
            items.append(f"application:{event.application_id}")
    return items
