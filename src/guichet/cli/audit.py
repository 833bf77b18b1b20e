"""``guichet audit ...``: verify the hash-chained audit log, sign checkpoints of its head, export bundles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.custodian import audit_services, audit_trail
from guichet.errors import BadInput


@click.group(epilog=example("guichet audit verify --json"))
def audit() -> None:
    """The append-only, hash-chained audit log."""


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{option}: not a date YYYY-MM-DD") from None


@audit.command("verify", epilog=example("guichet audit verify --as auditor --json\n"
                                        "guichet audit verify --bundle ./audit-2026-11"))
@click.option("--bundle", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Verify an export bundle instead of the hub (no hub or custodian needed).")
@click.option("--public-key", metavar="KEY", help="With --bundle: the audit public key to check against.")
@hub_command
@pass_cli
def verify(cli: Cli, bundle: Path | None, public_key: str | None) -> None:
    """Check every event's hash and link, in the database and in the mirror files, and that the chain
    still holds the custodian's latest signed checkpoint; never repairs.

    Exits 1 and names the first bad event when one was modified, deleted, inserted or reordered, or the
    tail was cut after a checkpoint (in the database and the files together).
    """
    if bundle is not None:
        from guichet.audit.bundle import verify_bundle

        result = verify_bundle(bundle, public_key)

        def bundle_text() -> str:
            if result["ok"]:
                tail = (f"; the last {result['unanchored']} after the latest checkpoint (no signature covers them)"
                        if result["unanchored"] else "")
                return (f"OK: {result['events']} events, {result['links']} later links, "
                        f"{result['checkpoints']} checkpoints{tail}")
            b = result["first_bad"]
            where = f" line {b['line']}" if b["line"] else ""
            seq = f", event {b['seq']}" if b["seq"] is not None else ""
            return f"BROKEN: {b['file']}{where}{seq}: {b['problem']}"

        cli.emit(result, bundle_text)
        if not result["ok"]:
            cli.problems()
        return
    report = audit_trail.verify_with_checkpoint(cli.hub, cli.actor)

    def text() -> str:
        if report.ok:
            behind = f"; the files lack the last {report.mirror_behind} (run guichet doctor)" if report.mirror_behind else ""
            cp = report.checkpoint or {}
            signed = (f"; holds the checkpoint of {cp['seq']} events signed at {cp['at']}" if cp.get("signature_ok")
                      else "; no checkpoint signed yet (guichet audit checkpoint)")
            return f"OK: {report.events} events, head {report.head}{behind}{signed}"
        bad = report.first_bad
        assert bad is not None
        where = f"event {bad.seq}" if bad.seq is not None else f"line {bad.line}"
        line = f", line {bad.line}" if bad.line is not None and bad.seq is not None else ""
        return f"BROKEN in the {bad.where}: {where}{line}: {bad.problem}"

    cli.emit(report.to_dict(), text)
    if not report.ok:
        cli.problems()


@audit.command("checkpoint", epilog=example("guichet audit checkpoint --json"))
@hub_command
@pass_cli
def checkpoint(cli: Cli) -> None:
    """Have the custodian sign the chain's head (event count, head hash, time) with its audit key, and
    publish the checkpoint (/transparency/checkpoints.json). The scheduler runs it daily."""
    signed = audit_services.checkpoint(cli.hub, cli.actor)
    cli.emit(signed.to_dict(), f"checkpoint signed: {signed.seq} events at {signed.at} (key {signed.key_id})")


@audit.command("export", epilog=example("guichet audit export --from 2026-01-01 --to 2026-03-31 --out ./audit-q1"))
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First day (UTC) of the period.")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="Last day (UTC) of the period.")
@click.option("--out", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) folder for the bundle.")
@hub_command
@pass_cli
def export(cli: Cli, start: str, end: str, out: Path) -> None:
    """Write a bundle an external auditor verifies without the hub: the period's events, the later links
    up to the latest checkpoint, the signed checkpoints, the audit public key and verify_bundle.py."""
    result = audit_services.export(cli.hub, cli.actor, start=_day(start, "--from"), end=_day(end, "--to"), out=out)
    cli.emit(result.__dict__, f"bundle written to {result.out}: {result.events} events, "
                              f"{result.checkpoints} checkpoints (verify: python {out}/verify_bundle.py {out})")


COMMANDS = [audit]
