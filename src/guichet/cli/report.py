"""``guichet report activity`` (the activity report, EHDS Art 59) and ``guichet complaint ...`` (Art 81)."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.transparency import services as transparency


@click.group(epilog=example("guichet report activity --period 2026 --html activity-2026.html"))
def report() -> None:
    """Public reports of the hub's activity."""


def activity_lines(data: dict[str, object]) -> list[str]:
    """The report's figures as lines of text (also what ``guichet demo`` prints)."""
    a = data["applications"]
    t = data["decision_time"]
    f = data["fees"]
    o = data["optouts"]
    assert isinstance(a, dict) and isinstance(t, dict) and isinstance(f, dict) and isinstance(o, dict)
    median = "—" if t["median"] is None else f"{t['median']:g} working days"
    overdue = data["results_overdue"]
    assert isinstance(overdue, list)
    return [
        f"Applications: {a['received']} received, {a['granted']} granted, {a['refused']} refused; "
        f"median decision time {median}",
        f"Permits issued: {data['permits_issued']}; fees invoiced {f['invoiced_cents'] / 100:.2f} {f['currency']} "
        f"({f['invoices']} invoices)",
        statistics_line(data["statistics_requests"]),  # type: ignore[arg-type]
        release_line(data["releases"]),  # type: ignore[arg-type]
        f"Objections: {o['recorded']} recorded, {o['withdrawn']} withdrawn, {o['active_at_end']} active at the end",
        f"Products: {len(data['products'])} (quality reports: {len(data['quality'])}); "  # type: ignore[arg-type]
        f"projects with overdue results: {len(overdue)}",
    ]


def statistics_line(r: dict[str, object]) -> str:
    return (f"Statistics requests: {r['received']} received, {r['released']} answers released, {r['refused']} refused, "
            f"{r['in_progress_now']} in progress")


def release_line(r: dict[str, object]) -> str:
    median = r["turnaround_hours_median"]
    turnaround = "—" if median is None else f"{median:g} hours"
    return (f"Releases of results: {r['submitted']} requests submitted, {r['released']} released "
            f"({r['files_released']} files), {r['rejected']} rejected, {r['recalled']} recalled; "
            f"median turnaround {turnaround}")


@report.command("activity", epilog=example("guichet report activity --period 2026 --json\n"
                                           "guichet report activity --period 2026 --html activity-2026.html --lang fr"))
@click.option("--period", required=True, type=click.IntRange(2000, 2100), metavar="YYYY", help="The year.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as one self-contained HTML page with its charts (inline SVG).")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="The language of the HTML page.")
@hub_command
@pass_cli
def activity(cli: Cli, period: int, html_out: Path | None, lang: str) -> None:
    """The activity report of a year: applications, decisions and their times, fees, opt-outs per month,
    products and their quality, projects with overdue results. Public (the page /transparency/report/YYYY)."""
    from guichet.transparency.report import html_report

    data = transparency.activity_report(cli.hub, cli.actor, year=period)
    if html_out is not None:
        name = str(cli.hub.config.properties.get("hub_name") or "Guichet")
        html_out.write_text(html_report(data, name, lang), encoding="utf-8")
    cli.emit({**data, **({"html": str(html_out)} if html_out else {})},
             "\n".join([f"Activity report {period}", *activity_lines(data),
                        *([f"Wrote {html_out}"] if html_out else [])]))


@click.group(epilog=example("guichet complaint list --json --as operator"))
def complaint() -> None:
    """Complaints (EHDS Art 81): lodge one, list them, move them along."""


@complaint.command("add", epilog=example("guichet complaint add --topic optout --text 'No receipt received' "
                                         "--channel post"))
@click.option("--topic", required=True, type=click.Choice(transparency.TOPICS))
@click.option("--text", required=True, help="The complaint (no identifier: a NIR is refused).")
@click.option("--contact", help="How to answer (an address, an e-mail), optional.")
@click.option("--channel", default="web", show_default=True, type=click.Choice(transparency.CHANNELS),
              help="How it was received (counter and post: an operator entering it).")
@hub_command
@pass_cli
def add(cli: Cli, topic: str, text: str, contact: str | None, channel: str) -> None:
    """Lodge a complaint; answers its reference."""
    ref = transparency.submit_complaint(cli.hub, cli.actor, topic=topic, text=text, contact=contact, channel=channel)
    cli.emit({"reference": ref}, f"Complaint recorded: {ref}")


@complaint.command("list", epilog=example("guichet complaint list --status received --json"))
@click.option("--status", type=click.Choice(transparency.STATUSES))
@hub_command
@pass_cli
def list_(cli: Cli, status: str | None) -> None:
    """Complaints, newest first (operators, auditors)."""
    rows = transparency.list_complaints(cli.hub, cli.actor, status=status)
    cli.emit([r.to_dict() for r in rows],
             "\n".join(f"{r.reference}  {r.received}  {r.status:<11} {r.topic}" for r in rows) or "No complaints")


@complaint.command("update", epilog=example("guichet complaint update C-2026-0001 --status answered "
                                            "--answer 'Receipt sent again'"))
@click.argument("reference")
@click.option("--status", required=True, type=click.Choice(transparency.STATUSES))
@click.option("--answer", help="The answer given (shown to operators and auditors).")
@hub_command
@pass_cli
def update(cli: Cli, reference: str, status: str, answer: str | None) -> None:
    """Move a complaint along (operators)."""
    info = transparency.update_complaint(cli.hub, cli.actor, reference=reference, status=status, answer=answer)
    cli.emit(info.to_dict(), f"{info.reference}: {info.status}")


COMMANDS = [report, complaint]
