"""``guichet init``: create a hub."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, env, example, json_option, pass_cli
from guichet.config import resolve_home, url_has_password
from guichet.errors import BadInput
from guichet.lifecycle.init import InitRequest, init_hub


@click.command(epilog=example(
    "guichet init --home /srv/hub --mode production\n"
    "GUICHET_DB_URL=postgresql+psycopg://guichet:secret@db/hub guichet init --home /srv/hub --json"
))
@click.option("--home", "home", metavar="DIR", help="The hub's folder (default: $GUICHET_HOME).")
@click.option("--custodian-home", metavar="DIR", type=click.Path(path_type=Path),
              help="Where the custodian keeps its keys (default: a sibling folder DIR-custodian). Never inside the hub home.")
@click.option("--db", "db_url", metavar="URL",
              help="Metadata database URL without password (default: SQLite in the home). "
                   "The password comes from GUICHET_DB_URL or --db-password-file.")
@click.option("--db-password-file", metavar="FILE", type=click.Path(path_type=Path),
              help="A 0600 file holding the database password.")
@click.option("--mode", type=click.Choice(["development", "production"]),
              help="production (default): every command that changes state needs --as and a token.")
@click.option("--operator", metavar="NAME", help="The first operator's account name (default: operator).")
@json_option
@pass_cli
def init(cli: Cli, home: str | None, custodian_home: Path | None, db_url: str | None,
         db_password_file: Path | None, mode: str | None, operator: str | None) -> None:
    """Create a hub: config, folders, metadata database, first operator and its API token.

    The operator's token is written to HOME/operator.token (0600). Running init again on a hub changes
    nothing.
    """
    if db_url and url_has_password(db_url):
        raise BadInput("--db: a password may not be given on the command line; use GUICHET_DB_URL or --db-password-file")
    if db_password_file is not None:
        db_password_file = db_password_file.absolute()
    result = init_hub(InitRequest(
        home=resolve_home(home, env("GUICHET_HOME")),
        custodian_home=custodian_home,
        db_url=db_url,
        db_password_file=db_password_file,
        env_db_url=env("GUICHET_DB_URL"),
        mode=mode,  # type: ignore[arg-type]
        operator=operator,
    ))
    verb = "Created" if result.created else "Already a hub, nothing changed:"
    cli.emit(result.to_dict(), lambda: (
        f"{verb} {result.home} ({result.mode} mode)\n"
        f"  custodian home: {result.custodian_home}\n"
        f"  first operator: {result.operator}, API token in {result.token_file}"
    ))


COMMANDS = [init]
