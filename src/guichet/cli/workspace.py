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



# --- for researchers: the dummy extract, re-running a recipe, versions, brought datasets (issue 18) ---------------

@workspace.command("dummy", epilog=example("guichet workspace dummy P-2026-0001 --as alice --json"))
@click.argument("permit_id", metavar="PERMIT")
@hub_command
@pass_cli
def dummy(cli: Cli, permit_id: str) -> None:
    """Write a dummy extract: the permit's tables and columns with synthetic values (no real row), unencrypted
    under the workspace's dummy/ folder, to write code before access."""
    from guichet.workspace import services

    r = services.dummy_extract(cli.hub, cli.actor, permit_id=permit_id)
    cli.emit(r, lambda: f"Dummy extract of {r['permit']} in {r['dummy']}: " + ", ".join(
        f"{t} {m['rows']} rows" for t, m in r["tables"].items()))


@workspace.command("rerun", epilog=example("guichet workspace rerun P-2026-0001 --version 1 --as operator --json"))
@click.argument("permit_id", metavar="PERMIT")
@click.option("--version", "version", type=click.IntRange(1), default=None, metavar="N",
              help="The extract version (default: the latest).")
@hub_command
@pass_cli
def rerun(cli: Cli, permit_id: str, version: int | None) -> None:
    """Re-run an extract version's recorded recipe against its recorded snapshot; say whether it reproduces the
    same extract (per table: rows and content hash)."""
    from guichet.workspace import services

    r = services.rerun_recipe(cli.hub, cli.actor, permit_id=permit_id, version=version)
    lines = [f"Extract v{r['version']} of {r['permit']}: " + ("reproduced" if r["reproduced"] else "NOT reproduced")]
    lines += [f"  {t}: {m['rows']} rows -> {m['rerun_rows']} rows, {'same' if m['same'] else 'different'} content"
              for t, m in r["tables"].items()]
    lines += [f"  {d}" for d in r["differences"]]
    cli.emit(r, "\n".join(lines))


@workspace.command("prune", epilog=example("guichet workspace prune P-2026-0001 --as operator"))
@click.argument("permit_id", metavar="PERMIT")
@hub_command
@pass_cli
def prune(cli: Cli, permit_id: str) -> None:
    """Remove the extract versions no longer needed (neither the latest nor used by a recorded output)."""
    from guichet.workspace import services

    r = services.prune_versions(cli.hub, cli.actor, permit_id=permit_id)
    cli.emit(r, f"Extract versions of {r['permit']}: removed {r['removed'] or 'none'}, kept {r['kept']}")


@workspace.command("bring", epilog=example("guichet workspace bring P-2026-0001 strata.csv --name strata --as alice"))
@click.argument("permit_id", metavar="PERMIT")
@click.argument("file", metavar="FILE.csv|FILE.parquet", type=click.Path(dir_okay=False))
@click.option("--name", required=True, metavar="N", help="The dataset's name in the workspace (a-z, 0-9, _).")
@click.option("--description", default="", metavar="TEXT", help="What it is (listed in the data dictionary).")
@hub_command
@pass_cli
def bring(cli: Cli, permit_id: str, file: str, name: str, description: str) -> None:
    """Add a dataset you bring to the permit's workspace: validated (size, no identifier-shaped column),
    encrypted under the project's key beside the extract, listed in its manifest and dictionary."""
    from pathlib import Path

    from guichet.workspace import services

    r = services.bring_dataset(cli.hub, cli.actor, permit_id=permit_id, path=str(Path(file).absolute()), name=name,
                               description=description)
    cli.emit(r, f"Brought {r['name']} into the workspace of {r['permit']}: {r['rows']} rows, "
                f"{len(r['columns'])} columns")


COMMANDS = [workspace]
