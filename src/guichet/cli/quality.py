"""``guichet quality ...``: run checks, write the report, override a hold, evaluate against a truth."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli


@click.group(epilog=example("guichet quality run ER_PRS_F --json\nguichet quality report ER_PRS_F --html report.html"))
def quality() -> None:
    """Quality checks of deposited datasets: results, reports, label, gating."""


@quality.command("run", epilog=example("guichet quality run ER_PRS_F --version 2 --json"))
@click.argument("dataset")
@click.option("--version", type=int, default=None, help="The version (default: the latest published or held).")
@hub_command
@pass_cli
def run(cli: Cli, dataset: str, version: int | None) -> None:
    """Run every check of a dataset version; exit 1 when a blocking check fails."""
    from guichet.quality.report import summary_text
    from guichet.quality.services import run_quality

    outcome, label = run_quality(cli.hub, cli.actor, dataset=dataset, version=version)
    data = outcome.to_dict()
    cli.emit(data, lambda: summary_text(data) + f"\nlabel: {label['grade']}")
    if outcome.blocking_failed:
        cli.problems()


@quality.command("report", epilog=example("guichet quality report ER_PRS_F --html report.html"))
@click.argument("dataset")
@click.option("--version", type=int, default=None, help="The version (default: the latest run).")
@click.option("--html", "html_out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the self-contained HTML report.")
@hub_command
@pass_cli
def report(cli: Cli, dataset: str, version: int | None, html_out: Path) -> None:
    """Write the quality report of the latest run (failing row numbers for producers and operators only)."""
    from guichet.quality.report import render
    from guichet.quality.services import results
    from guichet.quality.store import check_rows_visible

    stored = results(cli.hub, cli.actor, dataset=dataset, version=version)
    html_out.write_text(render(stored, rows_visible=check_rows_visible(cli.actor)), encoding="utf-8")
    cli.emit({"dataset": dataset, "version": stored.version, "html": str(html_out), "label": stored.label["grade"]},
             f"Wrote {html_out} ({dataset} v{stored.version}, label {stored.label['grade']})")


@quality.command("override", epilog=example(
    "guichet quality override ER_PRS_F --version 3 --reason 'flow month 2023-04 re-sent separately' --as operator"))
@click.argument("dataset")
@click.option("--version", type=int, required=True, help="The held version to publish.")
@click.option("--reason", required=True, help="Why it may be published despite its failures (recorded, audited).")
@hub_command
@pass_cli
def override(cli: Cli, dataset: str, version: int, reason: str) -> None:
    """Publish a held version despite blocking failures (operator; the reason is recorded and audited)."""
    from guichet.quality.services import override as do_override

    out = do_override(cli.hub, cli.actor, dataset=dataset, version=version, reason=reason)
    cli.emit(out, f"Published {dataset} v{version} by override ({len(out['overridden_checks'])} blocking checks)")


@quality.command("evaluate", epilog=example("guichet quality evaluate --truth delivery/truth --json"))
@click.option("--truth", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The truth folder of the synthetic delivery deposited in this hub.")
@hub_command
@pass_cli
def evaluate(cli: Cli, truth: Path) -> None:
    """Recall per defect code and false-positive rate of deposit + quality checks against a synthetic truth."""
    from guichet.quality.services import evaluate as do_evaluate

    out = do_evaluate(cli.hub, cli.actor, truth=truth)
    cli.emit(out, lambda: "\n".join([f"{k:<26} recall {v:.3f}" for k, v in out["recall"].items()]
                                    + [f"false-positive rate {out['false_positive_rate']:.4%}"]))


COMMANDS = [quality]
