"""``guichet cgm``: consensus metrics and predictive hypoglycaemia alerts from a CGM file (no hub needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from guichet.cgm.episodes import LEVELS
from guichet.cgm.metrics import SubjectMetrics, recording_metrics
from guichet.cgm.plot import write_alert_plots
from guichet.cgm.read import UNITS, read_recording
from guichet.cgm.readings import Recording
from guichet.cgm.report import AlertReport, analyse
from guichet.cgm.rules import RULES
from guichet.cgm.scoring import DEFAULT_HORIZON_MIN, Scores
from guichet.cli.common import Cli, example, json_option, pass_cli
from guichet.errors import BadInput

MAX_HORIZON_MIN = 240.0


def _unit_option(f: Any) -> Any:
    return click.option("--unit", type=click.Choice(UNITS), default=None,
                        help="The file's glucose unit (default: the header's, else the values').")(f)


def _read(path: Path, unit: str | None, group_by: str | None = None) -> Recording:
    recording = read_recording(path, unit=unit, group_by=group_by)
    for note in recording.notes():
        click.echo(f"guichet: note: {note}", err=True)
    return recording


@click.group(epilog=example("guichet cgm metrics readings.csv --json\nguichet cgm alerts readings.csv --plots plots/"))
def cgm() -> None:
    """Continuous glucose monitoring: the consensus metrics, and hypoglycaemia alerts scored against the
    consensus episodes. Reads a long file (id,time,gl[,diagnosis]) or a Dexcom Clarity export, in mg/dL or
    mmol/L; works on the file alone, without a hub."""


@cgm.command("metrics", epilog=example("guichet cgm metrics example_data_hall.csv --json"))
@click.argument("file", type=click.Path(path_type=Path))
@_unit_option
@json_option
@pass_cli
def metrics(cli: Cli, file: Path, unit: str | None) -> None:
    """The 2019 consensus metrics per subject, as iglu computes them (unrounded in --json): readings, span,
    active %, mean, SD, CV, GMI, time below 54 and 70, in 70-180, above 180 and 250 mg/dL, GRI, and the
    sufficiency rule (14 days at 70 % active)."""
    rows = recording_metrics(_read(file, unit))
    cli.emit([r.to_dict() for r in rows], lambda: _metrics_text(rows))


def _metrics_text(rows: list[SubjectMetrics]) -> str:
    head = f"{'id':<16} {'n':>6} {'days':>6} {'active%':>7} {'mean':>6} {'CV%':>5} {'GMI':>5} " \
           f"{'<54':>5} {'<70':>5} {'70-180':>6} {'>180':>5} {'>250':>5} {'GRI':>5} 14d/70%"
    lines = [head]
    for r in rows:
        cv = f"{r.cv_percent:5.1f}" if r.cv_percent is not None else "    -"
        lines.append(f"{r.id[:16]:<16} {r.n_readings:>6} {r.days:6.1f} {r.active_percent:7.1f} {r.mean_mgdl:6.1f} "
                     f"{cv} {r.gmi_percent:5.2f} {r.tbr_lt54:5.2f} {r.tbr_lt70:5.2f} {r.tir_70_180:6.2f} "
                     f"{r.tar_gt180:5.2f} {r.tar_gt250:5.2f} {r.gri:5.1f} {'yes' if r.meets_14d_70pct else 'no'}")
    return "\n".join(lines)


@cgm.command("alerts", epilog=example(
    "guichet cgm alerts example_data_hall.csv --json\n"
    "guichet cgm alerts clarity_export.csv --rule level --horizon 45 --plots alert-plots/"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--rule", "rule_name", type=click.Choice(sorted(RULES)), default="trend", show_default=True,
              help="trend: projected below 70 soon; level: entering 70-79; consensus: the episode definition "
                   "(a negative control that must score nothing).")
@click.option("--horizon", type=float, default=DEFAULT_HORIZON_MIN, show_default=True, metavar="MIN",
              help="How long before an episode's start an alert counts as predicting it.")
@click.option("--group-by", metavar="COLUMN", help="The subgroup column (default: diagnosis, when present).")
@click.option("--plots", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Write one SVG per alert in DIR (alert-0001.svg...), named in the JSON as 'plot'.")
@_unit_option
@json_option
@pass_cli
def alerts(cli: Cli, file: Path, rule_name: str, horizon: float, group_by: str | None, plots: Path | None,
           unit: str | None) -> None:
    """Predictive hypoglycaemia alerts, each with the readings it used, its rule and inputs; scored against
    the 2023 consensus level 1 and level 2 episodes (sensitivity, PPV, false alerts per patient-day, median
    lead time), overall, by level and by subgroup, with flags on subjects whose data are insufficient or
    atypical. An alert at or after an episode's start, or inside an episode, predicts nothing."""
    if not 0 < horizon <= MAX_HORIZON_MIN:
        raise BadInput(f"--horizon: expected minutes in (0, {MAX_HORIZON_MIN:g}]")
    report = analyse(_read(file, unit, group_by), RULES[rule_name], horizon)
    written = write_alert_plots(report, plots) if plots is not None else None
    cli.emit(report.to_dict(written), lambda: _alerts_text(report, plots))


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _scores_line(label: str, s: Scores) -> str:
    return (f"  {label:<22} sensitivity {_fmt(s.sensitivity)} ({s.predicted}/{s.episodes})  PPV {_fmt(s.ppv)} "
            f"({s.true_alerts}/{s.alerts})  false alerts/day {_fmt(s.false_alerts_per_day)}  "
            f"median lead {_fmt(s.median_lead_time_min, '{:.0f}')} min")


def _alerts_text(report: AlertReport, plots: Path | None) -> str:
    lines = [f"{report.recording.dataset}: rule '{report.rule.name}': {report.rule.definition()}",
             f"Scored against the consensus episodes with a {report.horizon_min:g}-minute horizon:",
             _scores_line("level 1 (< 70): all", report.overall())]
    lines += [_scores_line(f"level {level} (< {LEVELS[level]:g})", report.overall(level)) for level in LEVELS if level != 1]
    lines += [_scores_line(f"{report.recording.group_column}={g}", s) for g, s in report.by_subgroup().items()]
    flagged = [(r.subject.id, report.flags[r.subject.id]) for r in report.results if report.flags[r.subject.id]]
    if flagged:
        lines.append("Flags:")
        lines += [f"  {sid}: " + "; ".join(f"{f.flag} ({f.reason})" for f in flags) for sid, flags in flagged]
    if plots is not None:
        lines.append(f"Plots: one SVG per alert in {plots}")
    return "\n".join(lines)


COMMANDS = [cgm]
