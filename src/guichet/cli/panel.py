"""``guichet panel ...``: the review panels (scientific, citizens) and their members, recorded — never
inferred from the ``committee`` role."""

from __future__ import annotations

import click

from guichet.access import services as access
from guichet.access.workflow import PANELS
from guichet.cli.common import Cli, example, hub_command, pass_cli


@click.group(epilog=example("guichet panel add scientific claire --as operator\nguichet panel list --json"))
def panel() -> None:
    """Review panels: the scientific panel (binding opinion) and the citizens' panel (non-binding)."""


@panel.command("add", epilog=example("guichet panel add citizens paul --as operator"))
@click.argument("panel_name", type=click.Choice(tuple(PANELS)), metavar="scientific|citizens")
@click.argument("username", metavar="USER")
@hub_command
@pass_cli
def add(cli: Cli, panel_name: str, username: str) -> None:
    """Record an account (role committee) as a member of a panel."""
    m = access.add_member(cli.hub, cli.actor, panel=panel_name, username=username)
    cli.emit(m.to_dict(), f"{m.username} ({m.org}) is a member of the {m.panel} panel")


@panel.command("remove", epilog=example("guichet panel remove citizens paul --as operator"))
@click.argument("panel_name", type=click.Choice(tuple(PANELS)), metavar="scientific|citizens")
@click.argument("username", metavar="USER")
@hub_command
@pass_cli
def remove(cli: Cli, panel_name: str, username: str) -> None:
    """Remove an account from a panel."""
    access.remove_member(cli.hub, cli.actor, panel=panel_name, username=username)
    cli.emit({"panel": panel_name, "username": username, "removed": True}, f"{username} left the {panel_name} panel")


@panel.command("list", epilog=example("guichet panel list --panel scientific --json"))
@click.option("--panel", "panel_name", type=click.Choice(tuple(PANELS)), help="Only this panel.")
@hub_command
@pass_cli
def list_(cli: Cli, panel_name: str | None) -> None:
    """The panels' members with their organisations."""
    rows = access.list_members(cli.hub, cli.actor, panel=panel_name)
    cli.emit([m.to_dict() for m in rows], lambda: "\n".join(
        f"{m.panel:<11} {m.username:<20} {m.org}" for m in rows) or "No panel members.")


COMMANDS = [panel]
