"""``guichet criteria ...``: check a population criteria file and count it (feasibility), before or without an
application (``guichet application feasibility ID`` counts an application's criteria the same way)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from guichet.access import criteria as cr
from guichet.cli.common import Cli, example, home_option, hub_command, json_option, pass_cli
from guichet.errors import BadInput


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"{path}: cannot be read") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not JSON (line {exc.lineno}, column {exc.colno})") from None


@click.group(epilog=example("guichet criteria check examples/criteria.json --json\n"
                            "guichet criteria feasibility examples/criteria.json --as rita --json"))
def criteria() -> None:
    """Population criteria (docs/access.md): code lists, age, sex, territory, period; all / any / not."""


@criteria.command("check", epilog=example("guichet criteria check examples/criteria.json --json\n"
                                          "guichet criteria check my.json --offline"))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--offline", is_flag=True,
              help="Check the schema and the meaning only, not the hub's dictionary and lake (no hub needed).")
@home_option
@json_option
@pass_cli
def check(cli: Cli, file: Path, offline: bool) -> None:
    """Validate a criteria file against the schema, its meaning, the catalogue's dictionary and the columns the
    lake's published versions hold; print every problem with its JSON path, or the canonical form and its
    fingerprint. Exit 1 when the criteria is not valid."""
    doc = _load(file)
    errors = cr.validate(None if offline else cli.hub, doc)
    if errors:
        cli.emit({"valid": False, "errors": [e.to_dict() for e in errors]},
                 "\n".join(f"{e.path or '/'}: {e.message}" for e in errors))
        cli.problems()
        return
    text = cr.canonical(doc)
    cli.emit({"valid": True, "errors": [], "canonical": json.loads(text), "fingerprint": cr.fingerprint(text)},
             f"valid; fingerprint {cr.fingerprint(text)}\n{text}")


@criteria.command("feasibility", epilog=example("guichet criteria feasibility examples/criteria.json --as rita --json"))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--application", metavar="ID", default=None, help="The application the count is for (audited).")
@hub_command
@pass_cli
def feasibility(cli: Cli, file: Path, application: str | None) -> None:
    """How many persons the criteria selects on the published data: noisy, rounded up to a multiple of 10,
    "fewer than 11" below 11; counted against the account's daily budget and audited."""
    from guichet.access.feasibility_services import feasibility as count

    result = count(cli.hub, cli.actor, criteria=_load(file), application=application)
    cli.emit(result.to_dict(), result.shown)


COMMANDS = [criteria]
