"""``guichet jobs ...``: the scheduler — statutory clocks, expiry, deletion, notifications."""

from __future__ import annotations

from datetime import datetime

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.permits import services as permits


@click.group(epilog=example("guichet jobs run --json\nguichet jobs list"))
def jobs() -> None:
    """The scheduler: run it daily (a cron line or a systemd timer, docs/permits.md)."""


@jobs.command("run", epilog=example("guichet jobs run --as operator --json\n"
                                    "guichet jobs run --now 2027-06-30 --json   # development hubs only"))
@click.option("--now", "now", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Run for this day instead of today (development mode only).")
@click.option("--job", "only", multiple=True, metavar="NAME", help="Run only this job (repeat for several).")
@hub_command
@pass_cli
def run(cli: Cli, now: datetime | None, only: tuple[str, ...]) -> None:
    """Run every job for the day: lapse, flag overdue, expire permits and close access, shred keys after the
    grace period, deliver notifications. Idempotent: a second run for the same day changes nothing."""
    report = permits.run_jobs(cli.hub, cli.actor, today=now.date() if now else None, only=only)

    def text() -> str:
        lines = [f"Jobs for {report.today:%Y-%m-%d}: {report.changed} change(s)"]
        lines += [f"  {j.name:<28} {j.changed}" for j in report.jobs]
        return "\n".join(lines)

    cli.emit(report.to_dict(), text)


@jobs.command("list", epilog=example("guichet jobs list --json"))
@hub_command
@pass_cli
def list_(cli: Cli) -> None:
    """List the scheduler's jobs and its last runs."""
    info = permits.list_jobs(cli.hub, cli.actor)

    def text() -> str:
        return "\n".join(f"{j['job']:<28} {j['summary']}" for j in info["jobs"])

    cli.emit(info, text)


COMMANDS = [jobs]
