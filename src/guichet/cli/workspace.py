"""``guichet workspace ...``: a permit's secure workspace — its minimal extract, and the sandboxed sessions
(``sql``, ``python``) that work on it, with their ``history``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.errors import BadInput


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


def _csv(columns: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, list | dict) else v for v in row])
    return buf.getvalue().rstrip("\n")


@workspace.command("sql", epilog=example(
    "guichet workspace sql P-2026-0001 \"SELECT BEN_SEX_COD, count(*) FROM IR_BEN_R GROUP BY ALL\" --as alice"))
@click.argument("permit_id", metavar="PERMIT")
@click.argument("sql", metavar="SQL")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="How the rows are printed.")
@click.option("--max-rows", type=int, default=1000, show_default=True, help="At most this many rows come back.")
@hub_command
@pass_cli
def sql(cli: Cli, permit_id: str, sql: str, fmt: str, max_rows: int) -> None:
    """Run one query (SELECT or WITH over the extract's views) in a sandboxed session of the permit's workspace.
    Refused, failed or stopped past its time limit: exit 2 with one line on stderr."""
    from guichet.workspace import session_services

    result = session_services.run_sql(cli.hub, cli.actor, permit_id=permit_id, sql=sql, max_rows=max_rows)
    if cli.json or fmt == "json":
        click.echo(json.dumps({"columns": result["columns"], "rows": result["rows"], "truncated": result["truncated"]},
                              ensure_ascii=False))
    else:
        click.echo(_csv(result["columns"], result["rows"]))
    if result["truncated"]:
        click.echo(f"guichet: only the first {max_rows} rows are shown (--max-rows)", err=True)


@workspace.command("python", epilog=example("guichet workspace python P-2026-0001 analysis.py --as alice"))
@click.argument("permit_id", metavar="PERMIT")
@click.argument("script", metavar="SCRIPT.py", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@hub_command
@pass_cli
def python(cli: Cli, permit_id: str, script: Path) -> None:
    """Run a Python script in a sandboxed session of the permit's workspace: its working folder is the
    workspace's outputs/, ``guichet.workspace.sandbox_api.connect()`` gives DuckDB over the extract's views.
    What it prints comes back; a failure or a stop past the time limit exits 2."""
    from guichet.workspace import session_services
    from guichet.workspace.session_access import SessionFailed

    try:
        code = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{script.name}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    try:
        result = session_services.run_python(cli.hub, cli.actor, permit_id=permit_id, script=code)
    except SessionFailed as exc:
        sys.stdout.write(exc.stdout.decode("utf-8", "replace"))
        sys.stdout.flush()
        sys.stderr.write(exc.stderr.decode("utf-8", "replace"))
        sys.stderr.flush()
        raise
    if cli.json:
        cli.emit(result)
        return
    sys.stdout.write(result["stdout"])
    sys.stdout.flush()
    sys.stderr.write(result["stderr"])
    sys.stderr.flush()


class _NotebookGroup(click.Group):
    """``notebook PERMIT`` starts a lab (``notebook start PERMIT``); ``notebook run PERMIT FILE`` runs one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@workspace.group("notebook", cls=_NotebookGroup, epilog=example(
    "guichet workspace notebook P-2026-0001 --as alice\n"
    "guichet workspace notebook run P-2026-0001 analysis.ipynb --as alice"))
def notebook() -> None:
    """JupyterLab in a sandboxed session of the permit's workspace (``notebook PERMIT``), or one notebook
    executed headless (``notebook run PERMIT FILE.ipynb``). Needs the notebook extra: guichet[notebook]."""


@notebook.command("start", epilog=example("guichet workspace notebook start P-2026-0001 --as alice"))
@click.argument("permit_id", metavar="PERMIT")
@hub_command
@pass_cli
def notebook_start(cli: Cli, permit_id: str) -> None:
    """Run JupyterLab in a sandbox of the permit's workspace until Ctrl-C, idle time, its time limit or the end
    of access. It listens on a Unix socket only (no TCP port); the command prints where, and how to forward a
    port of your own machine to it (the portal does not proxy it)."""
    from guichet.workspace import session_services

    def announce(where: dict[str, Any]) -> None:
        if cli.json:
            click.echo(json.dumps({"event": "ready", **where}))
        else:
            click.echo(f"JupyterLab is running in a sandbox of {where['permit']} (run {where['run']}), on a Unix "
                       f"socket only: {where['socket']}\n"
                       f"Its token is in {where['token_file']} (readable by the hub's user only).\n"
                       "To open it in a browser, forward a local port of your own machine to that socket, e.g.\n"
                       f"  ssh -N -L 8888:{where['socket']} HUB-HOST\n"
                       f"then open http://localhost:8888{where['base_url']}?token=TOKEN\n"
                       "Ctrl-C stops it (so do idle time, its time limit and the end of your access).")

    result = session_services.lab(cli.hub, cli.actor, permit_id=permit_id, announce=announce)
    cli.emit(result, lambda: f"JupyterLab on {permit_id} {result['outcome']}: {result['message']}")


@notebook.command("run", epilog=example("guichet workspace notebook run P-2026-0001 analysis.ipynb --as alice"))
@click.argument("permit_id", metavar="PERMIT")
@click.argument("file", metavar="FILE.ipynb", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@hub_command
@pass_cli
def notebook_run(cli: Cli, permit_id: str, file: Path) -> None:
    """Execute a notebook headless in a sandboxed session; the executed notebook stays in the workspace's
    outputs/ (it leaves only through the airlock). A failing cell exits 2 with one line."""
    from guichet.workspace import session_services

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{file.name}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    result = session_services.run_notebook(cli.hub, cli.actor, permit_id=permit_id, notebook=text, name=file.name)
    cli.emit(result, lambda: f"executed: {result['output']} (run {result['run']}, {result['cpu_s']} CPU s)")


@workspace.command("history", epilog=example("guichet workspace history P-2026-0001 --json"))
@click.argument("permit_id", metavar="PERMIT")
@hub_command
@pass_cli
def history(cli: Cli, permit_id: str) -> None:
    """Every session run of a permit (who, when, code hash, rows, exit, CPU seconds), for its people and
    operators."""
    from guichet.workspace import session_services

    runs = session_services.history(cli.hub, cli.actor, permit_id=permit_id)
    cli.emit(runs, lambda: "\n".join(
        f"{r['when']} {r['who']} {r['kind']} {r['outcome']} rows={r['rows'] if r['rows'] is not None else '-'} "
        f"cpu={r['cpu_s']}s peak={r['peak_kb'] // 1024}MB sha256={r['code_sha256'][:12]}" for r in runs)
        or f"no session run on {permit_id}")


COMMANDS = [workspace]
