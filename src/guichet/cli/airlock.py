"""``guichet airlock check``: the automatic disclosure check of an output, without a hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from guichet.airlock.check import Result, check_file, write_suppressed
from guichet.airlock.rules import RISKS, names
from guichet.cli.common import Cli, example, hub_command, json_option, pass_cli


@click.group(epilog=example("guichet airlock check outputs/table.csv --json"))
def airlock() -> None:
    """Outputs leaving the workspace: automatic disclosure checks per cell."""


def _text(result: Result) -> str:
    lines = [f"{result.file}: {result.status} (rules {result.rules}, threshold {result.threshold}, "
             f"{'helper metadata' if result.metadata else 'no helper metadata'})"]
    lines += [f"  table: {r} — {RISKS.get(r, (r,))[0]}" for r in result.reasons]
    lines += [f"  note: {n}" for n in result.notes]
    for c in result.cells:
        if c.verdict != "pass" or c.reasons:
            lines.append(f"  row {c.row}, {c.column}: {c.verdict} ({', '.join(c.reasons)})")
    return "\n".join(lines)


@airlock.command("check", epilog=example("guichet airlock check outputs/by_age.csv --rules snds --json\n"
                                          "guichet airlock check by_age.csv --suppress by_age_released.csv"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rules", "rules", default="snds", show_default=True, type=click.Choice(names()),
              help="The rule set (one per data source).")
@click.option("--suppress", "suppress", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a copy with the failing cells (primary and secondary) withheld, and check it.")
@json_option
@pass_cli
def check(cli: Cli, file: Path, rules: str, suppress: Path | None) -> None:
    """Check a table (CSV) or a figure (PNG, SVG, with the helper-written table it was drawn from).

    Answers {"status": "pass"|"fail"|"review", "cells": [{"row", "column", "verdict", "reasons"}], ...}:
    every checked cell (row is the 1-based data row, column the column's name). A plain CSV without
    helper metadata is at best "review". Exit 0 when the status is pass, 1 when it is review or fail (the
    answer says which), 2 on unreadable input."""
    result = check_file(file, rules)
    answer = result.to_dict()
    if suppress is not None:
        released = write_suppressed(file, suppress, rules)
        answer["suppressed"] = released.to_dict()
        answer["suppressed"]["path"] = str(suppress)
    cli.emit(answer, lambda: _text(result) + (f"\nsuppressed copy {suppress}: {answer['suppressed']['status']}"
                                              if suppress is not None else ""))
    if result.status != "pass":
        cli.problems()


def _request_text(r: dict[str, Any]) -> str:
    lines = [f"{r['request']} ({r['permit']}): {r['state']}, turn {r['turn']}"]
    for f in r["files"]:
        kind = "supporting" if f["supporting"] else f["status"]
        lines.append(f"  {f['file']} [{f['group']}]: {kind}" + (f" — released {f['released']}" if f.get("released") else ""))
        lines += [f"    differencing: cell {x['label']} is {x['apart']} person(s) apart from {x['against']}"
                  for x in f.get("ledger", [])]
    lines += [f"  reason: {x}" for x in r.get("reasons", [])]
    return "\n".join(lines)


@airlock.command("submit", epilog=example(
    "guichet airlock submit P-2026-0001 tables/by_age.csv --group ages --context \"persons by age band, 2023\" "
    "--controls \"counts of persons, small cells suppressed\" --as alice --json"))
@click.argument("permit")
@click.argument("files", nargs=-1, required=True)
@click.option("--group", default="outputs", show_default=True, help="The file group these files belong to.")
@click.option("--context", default="", metavar="TEXT", help="What the output is, the population behind it (required).")
@click.option("--controls", default="", metavar="TEXT", help="What was done to protect it (required).")
@click.option("--supporting", multiple=True, metavar="FILE", help="A file that helps the review, never released.")
@click.option("--title", default="", metavar="TEXT", help="The release's title (the registry shows it).")
@click.option("--resubmit", default=None, metavar="REQUEST", help="A new turn of a request returned for changes.")
@click.option("--add-to", "add_to", default=None, metavar="REQUEST",
              help="Add this file group to your request, before any review of its turn.")
@hub_command
@pass_cli
def submit(cli: Cli, permit: str, files: tuple[str, ...], group: str, context: str, controls: str,
           supporting: tuple[str, ...], title: str, resubmit: str | None, add_to: str | None) -> None:
    """Submit files of the permit's workspace outputs folder (paths relative to it) for release. Answers
    {"request", "state", "turn", "files": [...]}: each file with its checksum and automatic verdicts."""
    from guichet.airlock import request_services as rs

    r = rs.submit(cli.hub, cli.actor, permit=permit, files=list(files), group=group, context=context,
                  controls=controls, supporting=list(supporting), title=title, resubmit=resubmit,
                  add_to=add_to)
    cli.emit(r, lambda: _request_text(r))


@airlock.command("review", epilog=example(
    "guichet airlock review R-2026-0001 --approve --reason \"suppressed, no differencing\" --as olga"))
@click.argument("request")
@click.option("--file", "file", default=None, help="Decide on this file only (default: every file not yet decided).")
@click.option("--approve", "decision", flag_value="approve", help="Approve.")
@click.option("--changes", "decision", flag_value="changes", help="Ask for changes (the author resubmits).")
@click.option("--reject", "decision", flag_value="reject", help="Reject.")
@click.option("--reason", required=True, metavar="TEXT",
              help="Why (for an approval of a failed check: the written justification of the override).")
@hub_command
@pass_cli
def review(cli: Cli, request: str, file: str | None, decision: str | None, reason: str) -> None:
    """Review an output request as a checker, without seeing the other checker's votes first."""
    from guichet.airlock import request_services as rs

    if decision is None:
        raise click.UsageError("one of --approve, --changes or --reject")
    r = rs.review(cli.hub, cli.actor, request=request, decision=decision, reason=reason, file=file)
    cli.emit(r, lambda: _request_text(r))


@airlock.command("release", epilog=example("guichet airlock release R-2026-0001 --as operator --json"))
@click.argument("request")
@hub_command
@pass_cli
def release(cli: Cli, request: str) -> None:
    """Release a request approved by two checkers. Answers {"files": [absolute paths]}."""
    from guichet.airlock import request_services as rs

    r = rs.release(cli.hub, cli.actor, request=request)
    cli.emit(r, lambda: "\n".join(r["files"]))


@airlock.command("recall", epilog=example("guichet airlock recall R-2026-0001 --reason \"incident\" --as operator"))
@click.argument("request")
@click.option("--reason", required=True, metavar="TEXT", help="Why the release is withdrawn (recorded).")
@click.option("--suspend", is_flag=True,
              help="Suspend the permit as well (needs permit.suspend on it: not of its organisation).")
@hub_command
@pass_cli
def recall(cli: Cli, request: str, reason: str, suspend: bool) -> None:
    """Recall a released request: its files are withdrawn; answers whom to notify."""
    from guichet.airlock import request_services as rs

    r = rs.recall(cli.hub, cli.actor, request=request, reason=reason, suspend=suspend)
    cli.emit(r, lambda: f"{r['request']}: recalled; notify {', '.join(r['notify'])}"
             + (f"; permit {r['permit_state']}" if r.get("permit_state") else ""))


@airlock.command("recheck", epilog=example(
    "guichet airlock recheck R-2026-0001 --concern --reason \"a cell is 3 persons from another\" --as quentin"))
@click.argument("request")
@click.option("--confirm", "verdict", flag_value="confirmed", help="The decision stands.")
@click.option("--concern", "verdict", flag_value="concern", help="A concern: the operator is told.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept; a concern's reason is told).")
@hub_command
@pass_cli
def recheck(cli: Cli, request: str, verdict: str | None, reason: str) -> None:
    """Re-check an approved request drawn for the sample (a checker who did not review it)."""
    from guichet.airlock import request_services as rs

    if verdict is None:
        raise click.UsageError("one of --confirm or --concern")
    r = rs.recheck(cli.hub, cli.actor, request=request, verdict=verdict, reason=reason)
    cli.emit(r, lambda: f"{r['request']}: re-check {r['verdict']}"
             + (f"; {r['operator_told']} told" if r["operator_told"] else ""))


@airlock.command("show", epilog=example("guichet airlock show R-2026-0001 --as olga --json"))
@click.argument("request")
@hub_command
@pass_cli
def show(cli: Cli, request: str) -> None:
    """An output request as you may see it: {"state", "turn", "files": [...]}."""
    from guichet.airlock import request_services as rs

    r = rs.show(cli.hub, cli.actor, request=request)
    cli.emit(r, lambda: _request_text(r))


@airlock.command("requests", epilog=example("guichet airlock requests --as olga --json"))
@hub_command
@pass_cli
def requests_(cli: Cli) -> None:
    """The output requests you may act on (a checker: those waiting, the ones proposed to you first)."""
    from guichet.airlock import request_services as rs

    r = rs.waiting(cli.hub, cli.actor)
    cli.emit(r, lambda: "\n".join(f"{x['request']} {x['permit']} {x['state']} turn {x['turn']}"
                                  + (" (proposed to you)" if x["proposed_to_me"] else "") for x in r) or "none")


@airlock.command("metrics", epilog=example("guichet airlock metrics --as operator --json"))
@hub_command
@pass_cli
def metrics_(cli: Cli) -> None:
    """The airlock's metrics: turnaround, decisions and reasons, files per request, overrides, re-checks."""
    from guichet.airlock import request_services as rs

    r = rs.metrics(cli.hub, cli.actor)
    cli.emit(r, lambda: "\n".join(f"{k}: {v}" for k, v in r.items()))



@airlock.command("publish", epilog=example("guichet airlock publish R-2026-0001 --as alice"))
@click.argument("request")
@hub_command
@pass_cli
def publish(cli: Cli, request: str) -> None:
    """Make a released request of your project public in the registry."""
    from guichet.airlock import request_services as rs

    r = rs.publish(cli.hub, cli.actor, request=request)
    cli.emit(r, lambda: f"{r['request']}: public")


@airlock.command("registry", epilog=example("guichet airlock registry --json"))
@hub_command
@pass_cli
def registry(cli: Cli) -> None:
    """The public list of releases (title, date, files with type and checksum, number of checkers, recalls)."""
    from guichet.airlock import request_services as rs

    r = rs.registry(cli.hub, cli.actor)
    cli.emit(r, lambda: "\n".join(f"{x['date']} {x['request']} {x['title']} ({x['state']}, {x['checkers']} checkers)"
                                  for x in r) or "none")


COMMANDS = [airlock]
