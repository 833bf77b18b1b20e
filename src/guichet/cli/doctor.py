"""``guichet doctor``: repair what a crash left behind."""

from __future__ import annotations

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.lifecycle import services as lifecycle


@click.command(epilog=example("guichet doctor --home /srv/hub --json"))
@hub_command
@pass_cli
def doctor(cli: Cli) -> None:
    """Check the hub and repair what a crash left: audit mirror tail, schema, folders (and, with later
    stages, pending versions and orphan files). Exits 1 only when an item failed."""
    items = lifecycle.doctor(cli.hub, cli.actor)
    failed = [i for i in items if i.status == "failed"]
    cli.emit({"ok": not failed, "items": [i.to_dict() for i in items]},
             lambda: "\n".join(f"{i.status:<9} {i.name}: {i.detail}" for i in items))
    if failed:
        cli.problems()


COMMANDS = [doctor]
