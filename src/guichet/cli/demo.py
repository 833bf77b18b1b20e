"""``guichet demo``: build a complete hub from synthetic data."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, env, example, json_option, pass_cli
from guichet.demo import DEFAULT_PERSONS, DemoRequest, run_demo

DEFAULT_HOME = "guichet-demo"


@click.command(epilog=example("guichet demo --home demo-hub\nguichet demo --home /tmp/demo --persons 2000 --json"))
@click.option("--home", "home", default=DEFAULT_HOME, show_default=True, metavar="DIR",
              help="A new or empty folder for the demo hub (its custodian goes to DIR-custodian).")
@click.option("--persons", default=DEFAULT_PERSONS, show_default=True, help="Synthetic persons to generate.")
@json_option
@pass_cli
def demo(cli: Cli, home: str, persons: int) -> None:
    """Build a complete hub from synthetic data in a new folder, in development mode.

    Deterministic: the same counts every run. Demo passwords and TOTP secrets go to
    DIR/demo-credentials.txt (0600), never to the screen.
    """
    result = run_demo(DemoRequest(home=Path(home), persons=persons, env_db_url=env("GUICHET_DB_URL")))

    def text() -> str:
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        look = [
            "",
            f"counts     {counts}",
            "",
            "Look at it:",
            f"  guichet user list --home {home}",
            f"  guichet audit verify --home {home}",
            f"  guichet serve --home {home}   then open http://127.0.0.1:8000/ and sign in with an account",
            f"    of {home}/demo-credentials.txt (password, then the TOTP code of its secret)",
        ]
        return "\n".join(result.lines + look)

    cli.emit(result.to_dict(), text)


COMMANDS = [demo]
