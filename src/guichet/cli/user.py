"""``guichet user ...``: accounts, roles and API tokens."""

from __future__ import annotations

import click

from guichet.accounts import services as accounts
from guichet.accounts.model import ORG_KINDS
from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.governance import ROLES


@click.group(epilog=example("guichet user add alice --role researcher --org 'Inserm U1018'\nguichet user list --json"))
def user() -> None:
    """Accounts, their roles and organisations, and their API tokens."""


@user.command("add", epilog=example("guichet user add alice --role researcher --org 'Inserm U1018' --as operator"))
@click.argument("name")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="A role (repeat for several).")
@click.option("--org", default=None, metavar="ORG", help="The account's organisation (required).")
@click.option("--org-kind", type=click.Choice(ORG_KINDS), default=None,
              help="The kind of a new organisation (default: academic).")
@click.option("--display-name", metavar="TEXT", help="A name to show in pages.")
@hub_command
@pass_cli
def add(cli: Cli, name: str, roles: tuple[str, ...], org: str | None, org_kind: str | None,
        display_name: str | None) -> None:
    """Create an account with one or more roles in an organisation (created on the fly when new)."""
    info = accounts.add_user(cli.hub, cli.actor, username=name, roles=list(roles), org=org or "",
                             display_name=display_name, org_kind=org_kind)
    cli.emit(info.to_dict(), f"Created {info.username} ({', '.join(info.roles)}) in {info.org}")


@user.command("list", epilog=example("guichet user list --json"))
@click.option("--active", is_flag=True, help="Only accounts that are not disabled.")
@hub_command
@pass_cli
def list_(cli: Cli, active: bool) -> None:
    """List accounts with their roles and organisations."""
    users = accounts.list_users(cli.hub, cli.actor, include_disabled=not active)

    def text() -> str:
        rows = [f"{u.username:<20} {','.join(u.roles):<30} {u.org}{'  (disabled)' if u.disabled else ''}" for u in users]
        return "\n".join(rows) if rows else "No accounts."

    cli.emit([u.to_dict() for u in users], text)


@user.command("disable", epilog=example("guichet user disable bob --reason 'left the project' --as operator"))
@click.argument("name")
@click.option("--reason", metavar="TEXT", help="Why (recorded in the audit log; no identifiers).")
@hub_command
@pass_cli
def disable(cli: Cli, name: str, reason: str | None) -> None:
    """Disable an account and revoke its API tokens."""
    info = accounts.disable_user(cli.hub, cli.actor, username=name, reason=reason)
    cli.emit(info.to_dict(), f"Disabled {info.username}; its tokens are revoked")


@user.command("enable", epilog=example("guichet user enable bob --as operator"))
@click.argument("name")
@hub_command
@pass_cli
def enable(cli: Cli, name: str) -> None:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    info = accounts.enable_user(cli.hub, cli.actor, username=name)
    cli.emit(info.to_dict(), f"Enabled {info.username}")


@user.command("token", epilog=example("guichet user token alice --days 30 --json > alice-token.json"))
@click.argument("name")
@click.option("--days", default=accounts.DEFAULT_TOKEN_DAYS, show_default=True, help="Days until it expires.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(accounts.TOKEN_SCOPES),
              help="Where it is valid (default: cli and api).")
@click.option("--label", metavar="TEXT", help="What the token is for.")
@hub_command
@pass_cli
def token(cli: Cli, name: str, days: int, scopes: tuple[str, ...], label: str | None) -> None:
    """Issue an API token for an account. It is shown once; only its hash is stored."""
    issued = accounts.issue_token(cli.hub, cli.actor, username=name, days=days,
                                  scopes=scopes or accounts.TOKEN_SCOPES, label=label)
    cli.emit({"token_id": issued.token_id, "token": issued.token, "expires_at": issued.expires_at.isoformat()},
             f"{issued.token}\n(token {issued.token_id}, expires {issued.expires_at:%Y-%m-%d}; shown once)")


@user.command("revoke-token", epilog=example("guichet user revoke-token 3f9a0c1d2e4b5a69 --as operator"))
@click.argument("token_id")
@hub_command
@pass_cli
def revoke_token(cli: Cli, token_id: str) -> None:
    """Revoke an API token by its id."""
    accounts.revoke_token(cli.hub, cli.actor, token_id=token_id)
    cli.emit({"token_id": token_id, "revoked": True}, f"Revoked token {token_id}")


@user.command("unlock", epilog=example("guichet user unlock alice --as operator"))
@click.argument("name")
@hub_command
@pass_cli
def unlock(cli: Cli, name: str) -> None:
    """Unlock an account locked after failed logins."""
    info = accounts.unlock_user(cli.hub, cli.actor, username=name)
    cli.emit(info.to_dict(), f"Unlocked {info.username}")


COMMANDS = [user]
