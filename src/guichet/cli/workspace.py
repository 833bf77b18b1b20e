"""``guichet workspace ...``: a permit's secure workspace — its minimal extract."""

from __future__ import annotations

from typing import Any

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli


@click.group(epilog=example("guichet workspace build P-2026-0001 --as operator --json"))
def workspace() -> None:
    """Workspaces: each permit's minimal, encrypted extract."""


def _text(r: dict[str, Any]) -> str:
    tables = ", ".join(f"{t} {n} rows" for t, n in r["tables"].items())
    risk = r["risk"]
    lines = [f"Extract of {r['permit']}: {r['status']} — {tables}; {r['persons']} persons "
             f"({r['excluded_opted_out']} excluded by opt-outs)",
             f"Risk: {risk['records_below_k']} persons in classes below k={risk['k']}; "
             f"{risk['unique_on_3_events']} unique on their first three events",
             f"Recipe: {r['recipe']}"]
    lines += [f"Held: {reason}" for reason in r.get("held_reasons", [])]
    return "\n".join(lines)


@workspace.command("build", epilog=example("guichet workspace build P-2026-0001 --as operator --json"))
@click.argument("permit_id", metavar="PERMIT")
@hub_command
@pass_cli
def build(cli: Cli, permit_id: str) -> None:
    """Build a permit's extract (only what it permits, opt-outs applied, keys replaced per project, identifying
    fields coarsened, its risk measured); rebuilding with unchanged inputs answers the same."""
    from guichet.workspace import services

    result = services.build_extract(cli.hub, cli.actor, permit_id=permit_id)
    cli.emit(result, lambda: _text(result))
@workspace.command("release", epilog=example(
    "guichet workspace release P-2026-0001 --reason \"aggregated outputs only\" --as operator"))
@click.argument("permit_id", metavar="PERMIT")
@click.option("--reason", required=True, metavar="TEXT", help="Why the measured risk is acceptable (recorded).")
@hub_command
@pass_cli
def release(cli: Cli, permit_id: str, reason: str) -> None:
    """Release a held extract with a recorded reason: its status becomes ready until the next rebuild."""
    from guichet.workspace import services

    result = services.release_extract(cli.hub, cli.actor, permit_id=permit_id, reason=reason)
    cli.emit(result, lambda: _text(result))


COMMANDS = [workspace]
