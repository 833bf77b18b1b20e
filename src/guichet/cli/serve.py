"""``guichet serve``: the web portal (pages and JSON API) of a hub."""

from __future__ import annotations

import os

import click

from guichet.cli.common import Cli, env, example, home_option, pass_cli
from guichet.config import effective_db_url, load_config
from guichet.errors import BadInput
from guichet.store.db import open_store


@click.command(epilog=example("guichet serve --home demo-hub\n"
                              "guichet serve --home /srv/hub --host 0.0.0.0 --port 8080 --workers 4"))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (use PostgreSQL for more than one or two).")
@click.option("--access-log", is_flag=True, help="Log every request (method, path, status) on stderr.")
@home_option
@pass_cli
def serve(cli: Cli, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the hub's web portal: pages for people and the JSON API under /api.

    Every page needs a sign-in with password and second factor (TOTP), in both modes; scripts use an API
    token (Authorization: Bearer). Put a TLS proxy in front for anything but localhost.
    """
    import uvicorn

    from guichet.web.factory import SERVE_DB_URL_ENV, SERVE_HOME_ENV

    home, db_url = cli.home, env("GUICHET_DB_URL")
    config = load_config(home)
    store = open_store(effective_db_url(config, db_url))
    try:
        if store.current_revision() != store.head_revision():
            raise BadInput(f"{home}: the database schema is behind this version; run 'guichet doctor --home {home}'")
    finally:
        store.dispose()
    click.echo(f"Guichet portal of {home} on http://{host}:{port}/ ({workers} worker{'s' if workers > 1 else ''}; "
               "Ctrl-C stops it)", err=True)
    common = {"host": host, "port": port, "access_log": access_log, "proxy_headers": True,
              "server_header": False, "log_level": "info"}
    if workers == 1:
        from guichet.web import create_app

        uvicorn.run(create_app(config, db_url, serving=True), **common)  # type: ignore[arg-type]
        return
    os.environ[SERVE_HOME_ENV] = str(home)
    if db_url:
        os.environ[SERVE_DB_URL_ENV] = db_url
    uvicorn.run("guichet.web.factory:app", factory=True, workers=workers, **common)  # type: ignore[arg-type]


COMMANDS = [serve]
