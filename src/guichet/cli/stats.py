"""``guichet stats ...``: statistics requests (EHDS Art 69 health data requests) — submit a specification,
assess it, have the hub compute the answer, review it, show and list (docs/statistics.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from guichet.cli.common import Cli, example, home_option, hub_command, json_option, pass_cli


@click.group(epilog=example("guichet stats request --file examples/statistics-request.json --as alice --json\n"
                            "guichet stats assess S-2026-0001 --accept --reason \"complete\" --as operator\n"
                            "guichet stats answer S-2026-0001 --as operator --json\n"
                            "guichet stats review S-2026-0001 --approve --reason \"checked\" --as olga\n"
                            "guichet stats show S-2026-0001 --as alice --json"))
def stats() -> None:
    """Statistics requests: anonymised statistics computed by the hub, never rows (EHDS Art 69)."""


def _text(r: dict[str, Any]) -> str:
    lines = [f"{r.get('id')}: {r.get('state', r.get('status'))}" + (f" — {r['title']}" if r.get("title") else "")]
    if r.get("assessment_due"):
        due = f", answer due {r['answer_due']}" if r.get("answer_due") else ""
        lines.append(f"  assessment due {r['assessment_due']}{due}")
    if r.get("reason"):
        lines.append(f"  reason: {r['reason']}")
    answer = r.get("answer") if isinstance(r.get("answer"), dict) else r
    for t in (answer or {}).get("tables", []) or []:
        lines.append(f"  {t['name']} ({t['kind']}): {len(t.get('withheld', []))} cell(s) withheld")
    lines += [f"  {f}" for f in (answer or {}).get("files", []) or []]
    return "\n".join(lines)


@stats.command("check", epilog=example("guichet stats check examples/statistics-request.json --offline --json"))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--offline", is_flag=True, help="Check the schema and the meaning only (no hub needed).")
@home_option
@json_option
@pass_cli
def check(cli: Cli, file: Path, offline: bool) -> None:
    """Check a specification: every problem with the JSON pointer of the bad value. Exit 1 when invalid."""
    from guichet.stats import spec as specs

    errors = specs.validate(None if offline else cli.hub, specs.load_file(file))
    cli.emit({"valid": not errors, "errors": [e.to_dict() for e in errors]},
             lambda: "valid" if not errors else "\n".join(str(e) for e in errors))
    if errors:
        cli.problems()


@stats.command("request", epilog=example("guichet stats request --file examples/statistics-request.json --as alice --json"))
@click.option("--file", "file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The specification (JSON; docs/statistics.md).")
@hub_command
@pass_cli
def request(cli: Cli, file: Path) -> None:
    """Submit a statistics request. Answers {"id", "state", "assessment_due", ...}."""
    from guichet.stats import services
    from guichet.stats import spec as specs

    r = services.submit(cli.hub, cli.actor, spec=specs.load_file(file))
    cli.emit(r, lambda: _text(r))


@stats.command("assess", epilog=example(
    "guichet stats assess S-2026-0001 --accept --reason \"complete, low risk\" --as operator"))
@click.argument("request_id", metavar="ID")
@click.option("--accept", "decision", flag_value="accept", help="Accept the request.")
@click.option("--refuse", "decision", flag_value="refuse", help="Refuse it (the reason is its justification).")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded, told to the requester).")
@hub_command
@pass_cli
def assess(cli: Cli, request_id: str, decision: str | None, reason: str) -> None:
    """Assess a submitted request (an operator; then the committee where the hub is configured so)."""
    from guichet.stats import services

    if decision is None:
        raise click.UsageError("one of --accept or --refuse")
    r = services.assess(cli.hub, cli.actor, request=request_id, accept=decision == "accept", reason=reason)
    cli.emit(r, lambda: _text(r))


@stats.command("answer", epilog=example("guichet stats answer S-2026-0001 --as operator --json"))
@click.argument("request_id", metavar="ID")
@hub_command
@pass_cli
def answer(cli: Cli, request_id: str) -> None:
    """Compute an accepted request's answer. Answers {"status": "released"|"review"|"refused", "files": [...]}."""
    from guichet.stats import services

    r = services.answer(cli.hub, cli.actor, request=request_id)
    cli.emit(r, lambda: _text(r))


@stats.command("review", epilog=example("guichet stats review S-2026-0001 --approve --reason \"no small cell\" --as olga"))
@click.argument("request_id", metavar="ID")
@click.option("--approve", "decision", flag_value="approve", help="Approve the release.")
@click.option("--reject", "decision", flag_value="reject", help="Refuse the release.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded).")
@hub_command
@pass_cli
def review(cli: Cli, request_id: str, decision: str | None, reason: str) -> None:
    """Review an answer as its one checker. Answers {"state", "files": [...]}."""
    from guichet.stats import services

    if decision is None:
        raise click.UsageError("one of --approve or --reject")
    r = services.review(cli.hub, cli.actor, request=request_id, approve=decision == "approve", reason=reason)
    cli.emit(r, lambda: _text(r))


@stats.command("show", epilog=example("guichet stats show S-2026-0001 --as alice --json"))
@click.argument("request_id", metavar="ID")
@hub_command
@pass_cli
def show(cli: Cli, request_id: str) -> None:
    """Show a request: {"state", "answer", ...} (a requester: only their own)."""
    from guichet.stats import services

    r = services.show(cli.hub, cli.actor, request=request_id)
    cli.emit(r, lambda: _text(r))


@stats.command("list", epilog=example("guichet stats list --state submitted --as operator --json"))
@click.option("--state", default=None, help="Only requests in this state (submitted: the assessment queue).")
@hub_command
@pass_cli
def listing(cli: Cli, state: str | None) -> None:
    """List the requests one may see, with their clocks."""
    from guichet.stats import services

    rows = services.listing(cli.hub, cli.actor, state=state)
    cli.emit(rows, lambda: "\n".join(_text(r) for r in rows) or "no statistics request")


COMMANDS = [stats]
