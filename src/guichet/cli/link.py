"""``guichet link ...``: linkage runs, evaluation against a synthetic truth, export, report, clerical review."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.linkage import services as linkage
from guichet.linkage.run import LinkRequest


@click.group(epilog=example("guichet link run --as operator --json\nguichet link export --out linked/ --as operator"))
def link() -> None:
    """Linkage: one stable pseudonymous person across claims, hospital stays and death certificates."""


@link.command("run", epilog=example("guichet link run --as operator --json\n"
                                    "guichet link run --delivery pseudonymised/ --seed 7 --as operator"))
@click.option("--delivery", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Link a pseudonymised delivery folder directly (default: the lake's published versions).")
@click.option("--seed", type=int, default=20240101, show_default=True, help="Seed of Splink's sampling.")
@click.option("--no-baselines", is_flag=True, help="Skip the two baseline death-matching methods.")
@hub_command
@pass_cli
def run(cli: Cli, delivery: Path | None, seed: int, no_baselines: bool) -> None:
    """Link everything, keep person ids stable, match death certificates; write a new index version."""
    result = linkage.run_linkage(cli.hub, cli.actor, request=LinkRequest(delivery, seed, not no_baselines))
    data = result.to_dict()
    cli.emit({k: data[k] for k in ("persons", "links_by_method", "deaths_in", "deaths_matched", "match_rate",
                                   "review_queue", "review_band")} | {"version": data["version"],
                                                       "deaths_by_method": data["deaths_by_method"]},
             f"person index v{data['version']}: {data['persons']:,} persons; deaths matched "
             f"{data['deaths_matched']:,}/{data['deaths_in']:,} ({data['match_rate']:.1%}); "
             f"{data['review_queue']} pairs for clerical review ({data['review_band']} in the uncertain band, "
             "the rest a calibration sample)")


@link.command("evaluate", epilog=example("guichet link evaluate --truth delivery/truth --as operator --json"))
@click.option("--truth", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="The synthetic delivery's truth folder (persons.csv, defects.csv).")
@hub_command
@pass_cli
def evaluate(cli: Cli, truth: Path) -> None:
    """Precision, recall and F1 of the latest linkage, over rows without a recorded defect."""
    result = linkage.evaluate_run(cli.hub, cli.actor, truth=truth)

    def text() -> str:
        lines = [f"{g:<14} precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}"
                 for g, s in result["links"].items()]
        lines += [f"deaths {m:<11} precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}"
                  for m, s in result["deaths_methods"].items()]
        return "\n".join(lines)

    cli.emit(result, text)


@link.command("export", epilog=example("guichet link export --out linked/ --as operator"))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A folder; persons.csv goes there.")
@hub_command
@pass_cli
def export(cli: Cli, out: Path) -> None:
    """Write persons.csv: table,row_number,person_id for every delivered row (empty when unlinked)."""
    result = linkage.export_links(cli.hub, cli.actor, out=out)
    cli.emit(result, f"{result['rows']:,} rows in {result['out']}")


@link.command("report", epilog=example("guichet link report --html linkage.html --as operator"))
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the report (self-contained HTML).")
@hub_command
@pass_cli
def report(cli: Cli, html_out: Path) -> None:
    """The aggregate linkage report: rates, m/u parameters, reliability curve, what was left unlinked."""
    result = linkage.report_html(cli.hub, cli.actor, out=html_out)
    cli.emit(result, f"report of index v{result['version']} in {result['out']}")


@link.group("review", epilog=example("guichet link review list --as operator --json"))
def review() -> None:
    """The clerical-review queue of uncertain death-certificate pairs (operators only; every view audited)."""


@review.command("list", epilog=example("guichet link review list --as operator --json"))
@click.option("--status", type=click.Choice(["open", "match", "non_match", "superseded", "all"]), default="open",
              show_default=True, help="Which pairs.")
@hub_command
@pass_cli
def review_list(cli: Cli, status: str) -> None:
    """List pairs with their probabilities (no identifiers)."""
    pairs = linkage.review_list(cli.hub, cli.actor, status=status)
    cli.emit(pairs, lambda: "\n".join(f"{p['id']:>6}  p={p['calibrated']:.3f}  {p['status']}" for p in pairs)
             or "The queue is empty.")


@review.command("show", epilog=example("guichet link review show 12 --as operator --json"))
@click.argument("pair_id", type=int)
@hub_command
@pass_cli
def review_show(cli: Cli, pair_id: int) -> None:
    """One pair's quasi-identifiers and evidence on both sides (audited)."""
    pair = linkage.review_view(cli.hub, cli.actor, pair_id=pair_id)
    cli.emit(pair, lambda: "\n".join(f"{side:<12} " + ", ".join(f"{k}={v}" for k, v in pair[side].items())
                                     for side in ("certificate", "person")))


@review.command("decide", epilog=example("guichet link review decide 12 --decision match --as operator"))
@click.argument("pair_id", type=int)
@click.option("--decision", type=click.Choice(["match", "non_match"]), required=True, help="The decision.")
@click.option("--note", metavar="TEXT", help="Why (no identifiers).")
@hub_command
@pass_cli
def review_decide(cli: Cli, pair_id: int, decision: str, note: str | None) -> None:
    """Record a decision; the next run applies it and uses it to calibrate."""
    result = linkage.review_decide(cli.hub, cli.actor, pair_id=pair_id, decision=decision, note=note)
    cli.emit(result, f"pair {pair_id}: {decision}")


COMMANDS = [link]
