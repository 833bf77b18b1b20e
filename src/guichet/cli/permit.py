"""``guichet permit ...``: data permits — verify a signed permit file (no hub needed), the published schema,
fee estimates; and ``guichet user attest`` (a training attestation, which a named person needs)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, json_option, pass_cli
from guichet.cli.user import user
from guichet.permits.document import schema_text, verify_file


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


COMMANDS = [permit]
