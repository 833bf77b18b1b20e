"""``guichet permit ...``: data permits — verify a signed permit file (no hub needed), the published schema,
fee estimates; and ``guichet user attest`` (a training attestation, which a named person needs)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from guichet.cli.common import Cli, example, hub_command, json_option, pass_cli
from guichet.cli.user import user
from guichet.errors import BadInput
from guichet.permits.document import dump_signed, schema_text, verify_file
from guichet.permits.signing import load_or_create_key


@click.group(epilog=example("guichet permit verify permit-P-2026-0001.json\nguichet permit schema > permit.schema.json"))
def permit() -> None:
    """Data permits: the signed document every later step reads."""


@permit.command("verify", epilog=example("guichet permit verify permit-P-2026-0001.json --json"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key-id", metavar="KID", default=None,
              help="Also require this signing key (the key_id that /registry.json publishes).")
@json_option
@pass_cli
def verify(cli: Cli, file: Path, key_id: str | None) -> None:
    """Check a signed permit file: exit 0 when its signature holds, 1 when it does not. Needs no hub."""
    result = verify_file(file, expected_key_id=key_id)
    if cli.json:
        cli.emit(result.to_dict())
    elif result.valid:
        click.echo(result.message)
    else:
        click.echo(f"guichet: invalid permit: {result.message}", err=True)
    if not result.valid:
        cli.problems()


@permit.command("schema", epilog=example("guichet permit schema > permit.schema.json"))
def schema() -> None:
    """Print the published JSON Schema of a signed permit file."""
    click.echo(schema_text(), nl=False)


@user.command("attest", epilog=example("guichet user attest alice --until 2027-12-31 --as operator"))
@click.argument("name")
@click.option("--until", "until", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The last day the training attestation is valid (YYYY-MM-DD).")
@click.option("--note", metavar="TEXT", default=None, help="Which training (no identifiers).")
@hub_command
@pass_cli
def attest(cli: Cli, name: str, until: datetime, note: str | None) -> None:
    """Record that a person completed the hub's training, valid until a date (named people on a permit need one)."""
    from guichet.permits import services as permits

    info = permits.attest_user(cli.hub, cli.actor, username=name, until=until.date(), note=note)
    cli.emit(info.to_dict(), f"{info.username}: training attested until {info.valid_until:%Y-%m-%d}")


def _svc():
    from guichet.permits import permit_services

    return permit_services


def _state_text(info: Any) -> str:
    people = ", ".join(f"{p.name}{'' if p.access else ' (suspended)'}" for p in info.people)
    lines = [f"Permit {info.id} (application {info.application}, revision {info.revision}): {info.state}",
             f"  holder {info.owner} ({info.org}); valid {info.valid_from:%Y-%m-%d} to {info.valid_until:%Y-%m-%d}"
             + (" (extended)" if info.extended else ""),
             f"  people: {people or '-'}"]
    if info.pending:
        lines.append(f"  pending amendments: {', '.join(str(a['id']) + ' ' + a['change'] for a in info.pending)}")
    return "\n".join(lines)


@permit.command("estimate", epilog=example("guichet permit estimate 1 --as operator --json"))
@click.argument("application_id", type=int, metavar="APPLICATION")
@click.option("--compute-hours", type=click.IntRange(0, 10_000_000), default=0, show_default=True,
              help="Workspace compute hours the applicant asks for.")
@hub_command
@pass_cli
def estimate_(cli: Cli, application_id: int, compute_hours: int) -> None:
    """Estimate an application's fees from the hub's schedule (the applicant then accepts or declines it)."""
    info = _svc().estimate_fees(cli.hub, cli.actor, application_id=application_id, compute_hours=compute_hours)
    cli.emit({"estimate": info.to_dict()},
             f"Estimate {info.id} for application {application_id}: {info.to_dict()['total']} ({info.org_kind})")


@permit.command("accept-estimate", epilog=example("guichet permit accept-estimate 1 --as alice"))
@click.argument("application_id", type=int, metavar="APPLICATION")
@hub_command
@pass_cli
def accept_estimate(cli: Cli, application_id: int) -> None:
    """Accept the fee estimate of one's own application (the permit needs it)."""
    info = _svc().accept_estimate(cli.hub, cli.actor, application_id=application_id)
    cli.emit({"estimate": info.to_dict()}, f"Accepted estimate {info.id}: {info.to_dict()['total']}")


@permit.command("withdraw-estimate", epilog=example("guichet permit withdraw-estimate 1 --as alice"))
@click.argument("application_id", type=int, metavar="APPLICATION")
@hub_command
@pass_cli
def withdraw_estimate(cli: Cli, application_id: int) -> None:
    """Decline the fee estimate of one's own application."""
    info = _svc().withdraw_estimate(cli.hub, cli.actor, application_id=application_id)
    cli.emit({"estimate": info.to_dict()}, f"Declined estimate {info.id}")


@permit.command("issue", epilog=example("guichet permit issue 1 --person bruno --as operator --json"))
@click.argument("application_id", type=int, metavar="APPLICATION")
@click.option("--person", "people", multiple=True, metavar="USER",
              help="Another named person (an account with a valid training attestation); repeat for several. "
                   "The applicant is the principal investigator.")
@hub_command
@pass_cli
def issue(cli: Cli, application_id: int, people: tuple[str, ...]) -> None:
    """Issue the signed permit of an authorised application whose fee estimate was accepted."""
    info = _svc().issue(cli.hub, cli.actor, application_id=application_id, people=list(people))
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("show", epilog=example("guichet permit show P-2026-0001 --json"))
@click.argument("permit_id", metavar="ID")
@hub_command
@pass_cli
def show(cli: Cli, permit_id: str) -> None:
    """Show a permit: state (pending, active, suspended, expired, revoked), validity, people and their access."""
    info = _svc().show(cli.hub, cli.actor, permit_id=permit_id)
    cli.emit(info.to_dict(), lambda: _state_text(info))


@permit.command("list", epilog=example("guichet permit list --state active --json"))
@click.option("--state", type=click.Choice(["pending", "active", "suspended", "expired", "revoked"]), default=None)
@hub_command
@pass_cli
def list_(cli: Cli, state: str | None) -> None:
    """List permits with their state."""
    infos = _svc().list_permits(cli.hub, cli.actor, state=state)
    cli.emit([{k: v for k, v in i.to_dict().items() if k != "document"} for i in infos],
             lambda: "\n".join(f"{i.id}  {i.state:<9} {i.valid_until:%Y-%m-%d}  {i.org}" for i in infos) or "No permits.")


@permit.command("export", epilog=example("guichet permit export P-2026-0001 --out permit.json"))
@click.argument("permit_id", metavar="ID")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write the signed JSON to.")
@click.option("--revision", type=click.IntRange(1, 100_000), default=None, help="An earlier revision.")
@hub_command
@pass_cli
def export(cli: Cli, permit_id: str, out: Path, revision: int | None) -> None:
    """Write a permit's signed JSON document (verify it anywhere with 'guichet permit verify')."""
    envelope = _svc().export(cli.hub, cli.actor, permit_id=permit_id, revision=revision)
    try:
        out.write_text(dump_signed(envelope), encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot be written ({exc.strerror or type(exc).__name__})") from None
    sig = envelope["signature"]
    cli.emit({"permit": permit_id, "revision": envelope["permit"]["revision"], "file": str(out), "key_id": sig["key_id"]},
             f"Wrote {out} (permit {permit_id} revision {envelope['permit']['revision']}, key {sig['key_id']})")


@permit.command("amend", epilog=example("guichet permit amend P-2026-0001 --remove-person bruno --reason 'left' --as operator"))
@click.argument("permit_id", metavar="ID")
@click.option("--add-person", metavar="USER", default=None, help="Name another person (widens: approved first).")
@click.option("--remove-person", metavar="USER", default=None, help="Remove a person (at once).")
@click.option("--add-variable", metavar="TABLE.VARIABLE", default=None, help="Add a variable (widens: approved first).")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded and signed in the permit).")
@hub_command
@pass_cli
def amend(cli: Cli, permit_id: str, add_person: str | None, remove_person: str | None, add_variable: str | None,
          reason: str) -> None:
    """Amend a permit: removing a person takes effect at once; adding one or a variable is approved first."""
    info = _svc().amend(cli.hub, cli.actor, permit_id=permit_id, reason=reason, add_person=add_person,
                        remove_person=remove_person, add_variable=add_variable)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("approve", epilog=example("guichet permit approve P-2026-0001 1 --reason 'needed for the analysis' --as arthur"))
@click.argument("permit_id", metavar="ID")
@click.argument("amendment", type=click.IntRange(1, 2**31 - 1), metavar="AMENDMENT")
@click.option("--refuse", is_flag=True, help="Refuse it instead.")
@click.option("--reason", required=True, metavar="TEXT", help="Why.")
@hub_command
@pass_cli
def approve(cli: Cli, permit_id: str, amendment: int, refuse: bool, reason: str) -> None:
    """Approve (or refuse) a requested amendment that widens a permit's scope (an authority)."""
    info = _svc().approve_amendment(cli.hub, cli.actor, permit_id=permit_id, amendment=amendment, reason=reason,
                                    approve=not refuse)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("extend", epilog=example("guichet permit extend P-2026-0001 --until 2030-12-31 --reason 'follow-up'"))
@click.argument("permit_id", metavar="ID")
@click.option("--until", "until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The new last day.")
@click.option("--reason", required=True, metavar="TEXT", help="Why.")
@hub_command
@pass_cli
def extend(cli: Cli, permit_id: str, until: datetime, reason: str) -> None:
    """Extend a permit once, by at most its first length, asked at least a month before it ends."""
    info = _svc().extend(cli.hub, cli.actor, permit_id=permit_id, until=until.date(), reason=reason)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("revoke", epilog=example("guichet permit revoke P-2026-0001 --reason 'breach' --exclude-years 2 --as arthur"))
@click.argument("permit_id", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why (published in the registry).")
@click.option("--exclude-years", type=click.IntRange(0, 5), default=0, show_default=True,
              help="Exclude the holder's organisation from access for this many years (EHDS Art 63).")
@hub_command
@pass_cli
def revoke(cli: Cli, permit_id: str, reason: str, exclude_years: int) -> None:
    """Revoke a permit: access closes at once; the organisation may be excluded for up to 5 years."""
    info = _svc().revoke(cli.hub, cli.actor, permit_id=permit_id, reason=reason, exclude_years=exclude_years)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("suspend", epilog=example("guichet permit suspend P-2026-0001 --reason 'output incident' --as operator"))
@click.argument("permit_id", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why (the holder is told).")
@hub_command
@pass_cli
def suspend(cli: Cli, permit_id: str, reason: str) -> None:
    """Suspend a permit by a decision: access to its data closes until it is reinstated."""
    info = _svc().suspend(cli.hub, cli.actor, permit_id=permit_id, reason=reason)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("reinstate", epilog=example("guichet permit reinstate P-2026-0001 --reason 'cleared' --as operator"))
@click.argument("permit_id", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why (the holder is told).")
@hub_command
@pass_cli
def reinstate(cli: Cli, permit_id: str, reason: str) -> None:
    """Reinstate a suspended permit: access to its data opens again."""
    info = _svc().reinstate(cli.hub, cli.actor, permit_id=permit_id, reason=reason)
    cli.emit({"permit": info.to_dict()}, lambda: _state_text(info))


@permit.command("appeal", epilog=example(
    "guichet permit appeal P-2026-0001 --reason 'the breach was the processor's' --as alice --json"))
@click.argument("permit_id", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="The grounds of the appeal.")
@hub_command
@pass_cli
def appeal(cli: Cli, permit_id: str, reason: str) -> None:
    """Lodge an appeal against a permit's end (revoked or expired): its keys are not shredded while it is pending."""
    row = _svc().appeal(cli.hub, cli.actor, permit_id=permit_id, reason=reason)
    cli.emit(row, f"Appeal {row['id']} against {row['permit']}: {row['state']}")


@permit.command("decide-appeal", epilog=example(
    "guichet permit decide-appeal P-2026-0001 --dismissed --reason 'the holder answers for it' --as arthur"))
@click.argument("permit_id", metavar="ID")
@click.option("--upheld/--dismissed", required=True, help="The appeal's outcome.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded).")
@hub_command
@pass_cli
def decide_appeal(cli: Cli, permit_id: str, upheld: bool, reason: str) -> None:
    """Record the outcome of a pending appeal: dismissed, the keys are shredded after the grace period; upheld, kept."""
    row = _svc().decide_appeal(cli.hub, cli.actor, permit_id=permit_id, upheld=upheld, reason=reason)
    cli.emit(row, f"Appeal {row['id']} against {row['permit']}: {row['state']}")


@permit.command("key", epilog=example("guichet permit key --json"))
@hub_command
@pass_cli
def key(cli: Cli) -> None:
    """Show the hub's permit-signing key id and public key (made on first use), as /registry.json publishes them."""
    pub = load_or_create_key(cli.hub.config).public
    cli.emit(pub.to_dict(), f"{pub.key_id}  {pub.public_key}")


COMMANDS = [permit]
