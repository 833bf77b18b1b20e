"""``guichet audit ...``: verify the hash-chained audit log."""

from __future__ import annotations

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.governance import audit_services


@click.group(epilog=example("guichet audit verify --json"))
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify", epilog=example("guichet audit verify --as auditor --json"))
@hub_command
@pass_cli
def verify(cli: Cli) -> None:
    """Check every event's hash and link, in the database and in the mirror files; never repairs.

    Exits 1 and names the first bad event when one was modified, deleted, inserted or reordered.
    """
    report = audit_services.verify_chain(cli.hub, cli.actor)

    def text() -> str:
        if report.ok:
            behind = f"; the files lack the last {report.mirror_behind} (run guichet doctor)" if report.mirror_behind else ""
            return f"OK: {report.events} events, head {report.head}{behind}"
        bad = report.first_bad
        assert bad is not None
        where = f"event {bad.seq}" if bad.seq is not None else f"line {bad.line}"
        line = f", line {bad.line}" if bad.line is not None and bad.seq is not None else ""
        return f"BROKEN in the {bad.where}: {where}{line}: {bad.problem}"

    cli.emit(report.to_dict(), text)
    if not report.ok:
        cli.problems()


COMMANDS = [audit]
