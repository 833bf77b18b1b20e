"""``guichet airlock check``: the automatic disclosure check of an output, without a hub."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.airlock.check import Result, check_file, write_suppressed
from guichet.airlock.rules import RISKS, names
from guichet.cli.common import Cli, example, json_option, pass_cli


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


COMMANDS = [airlock]
