"""``guichet application ...``: an applicant's access application, from the draft to the decision, and
the operator's completeness check. The reviewers' steps are ``guichet review``; panels ``guichet panel``."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from guichet.access import services as access
from guichet.access.workflow import STATES
from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.errors import BadInput

FEASIBILITY_MODULE = "guichet.access.feasibility_services"


def read_application(path: str) -> dict[str, Any]:
    """An application's JSON file (errors name the file and line, never a value)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"--file {file}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise BadInput(f"--file {file}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"--file {file}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--file {file}: an application is a JSON object (see examples/application.json)")
    return data


def _due_text(d: dict[str, Any]) -> str:
    if d.get("answer_due"):
        return f", answer due {d['answer_due']}"
    return f", due {d['due']}" if d.get("due") else ""


@click.group(epilog=example("guichet application create --file examples/application.json --as alice --json\n"
                            "guichet application submit 1 --as alice"))
def application() -> None:
    """Access applications (EHDS Arts 67-68): draft, submit, answer, withdraw; completeness check; show."""


@application.command("create", epilog=example("guichet application create --file examples/application.json --as alice --json"))
@click.option("--file", "file", required=True, metavar="APP.json", help="The application (docs/access.md).")
@hub_command
@pass_cli
def create(cli: Cli, file: str) -> None:
    """Create a draft application from a JSON file (checked against the schema and the catalogue)."""
    s = access.create(cli.hub, cli.actor, content=read_application(file))
    cli.emit({"id": s.id, "state": s.state, "revision": s.revision}, f"Created application {s.id} (draft)")


@application.command("submit", epilog=example("guichet application submit 1 --as alice"))
@click.argument("application_id", type=int, metavar="ID")
@hub_command
@pass_cli
def submit(cli: Cli, application_id: int) -> None:
    """Submit your draft: the completeness check's clock starts."""
    s = access.submit(cli.hub, cli.actor, application_id=application_id)
    cli.emit(s.to_dict(), f"Application {s.id} is {s.state}{_due_text(s.to_dict())}")


@application.command("withdraw", epilog=example("guichet application withdraw 1 --reason 'funding ended' --as alice"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--reason", metavar="TEXT", help="Why (optional; no identifiers).")
@hub_command
@pass_cli
def withdraw(cli: Cli, application_id: int, reason: str | None) -> None:
    """Withdraw your application at any step before the decision."""
    s = access.withdraw(cli.hub, cli.actor, application_id=application_id, reason=reason)
    cli.emit(s.to_dict(), f"Application {s.id} is withdrawn")


@application.command("answer", epilog=example("guichet application answer 1 --file app-v2.json --as alice"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--file", "file", required=True, metavar="APP.json", help="The whole application, revised.")
@hub_command
@pass_cli
def answer(cli: Cli, application_id: int, file: str) -> None:
    """Answer the questions on your application (or edit your draft): a new revision."""
    s = access.answer(cli.hub, cli.actor, application_id=application_id, content=read_application(file))
    cli.emit(s.to_dict(), f"Application {s.id}: revision {s.revision}, {s.state}{_due_text(s.to_dict())}")


@application.command("check", epilog=example(
    "guichet application check 1 --complete --reason 'all sections present' --as operator\n"
    "guichet application check 1 --incomplete --reason 'ethics assessment missing' --as operator"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--complete/--incomplete", default=None, help="The check's outcome (required).")
@click.option("--reason", required=True, metavar="TEXT", help="Why; for an incomplete one, the questions.")
@hub_command
@pass_cli
def check(cli: Cli, application_id: int, complete: bool | None, reason: str) -> None:
    """The operator's completeness check (a decision): complete, or incomplete with questions."""
    if complete is None:
        raise BadInput("say --complete or --incomplete")
    s = access.check(cli.hub, cli.actor, application_id=application_id, complete=complete, reason=reason)
    cli.emit(s.to_dict(), f"Application {s.id} is {s.state}{_due_text(s.to_dict())}")


@application.command("show", epilog=example("guichet application show 1 --json"))
@click.argument("application_id", type=int, metavar="ID")
@hub_command
@pass_cli
def show(cli: Cli, application_id: int) -> None:
    """An application: contents, state, due date, history, opinions, notes."""
    info = access.show(cli.hub, cli.actor, application_id=application_id)
    d = info.to_dict()

    def text() -> str:
        lines = [f"Application {info.id}: {info.title}", f"  applicant {info.applicant} ({info.org}, {info.org_kind})",
                 f"  state {info.state}, revision {info.revision}{_due_text(d)}"]
        lines += [f"  {h.at:%Y-%m-%d} {h.actor}: {h.action} -> {h.to_state}" + (f" ({h.reason})" if h.reason else "")
                  for h in info.history]
        lines += [f"  opinion of the {o.panel} panel{'' if o.binding else ' (non-binding)'}: {o.outcome} ({o.reason})"
                  for o in info.opinions]
        lines += [f"  note on {n.section} for the {n.audience}: {n.text}" for n in info.notes]
        return "\n".join(lines)

    cli.emit(d, text)


@application.command("list", epilog=example("guichet application list --state submitted --json"))
@click.option("--state", type=click.Choice(STATES), help="Only applications in this state.")
@click.option("--mine", is_flag=True, help="Only your own applications.")
@hub_command
@pass_cli
def list_(cli: Cli, state: str | None, mine: bool) -> None:
    """Applications with their states and due dates (an applicant: their own)."""
    rows = access.list_applications(cli.hub, cli.actor, state=state, mine=mine)

    def text() -> str:
        return "\n".join(f"{a.id:>5}  {a.state:<13} {a.applicant:<20} {a.title}{_due_text(a.to_dict())}"
                         for a in rows) or "No applications."

    cli.emit([a.to_dict() for a in rows], text)


@application.command("diff", epilog=example("guichet application diff 1 --from 1 --to 2 --json"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--from", "from_revision", type=int, help="The earlier revision (default: the one before --to).")
@click.option("--to", "to_revision", type=int, help="The later revision (default: the current one).")
@hub_command
@pass_cli
def diff(cli: Cli, application_id: int, from_revision: int | None, to_revision: int | None) -> None:
    """What changed between two revisions, section by section."""
    d = access.diff(cli.hub, cli.actor, application_id=application_id, from_revision=from_revision,
                    to_revision=to_revision)
    cli.emit(d.to_dict(), lambda: "\n".join([f"Application {d.application}: revision {d.from_revision} -> {d.to_revision}"]
                                            + [f"  {c.section}: {c.change}" for c in d.changes]))


@application.command("lapse", epilog=example("guichet application lapse --as operator --json"))
@hub_command
@pass_cli
def lapse(cli: Cli) -> None:
    """Lapse the applications whose applicant did not answer within the time allowed."""
    ids = access.lapse(cli.hub, cli.actor)
    cli.emit({"lapsed": ids}, f"Lapsed {len(ids)} application(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))


@application.command("feasibility", epilog=example("guichet application feasibility 1 --as alice --json"))
@click.argument("application_id", type=int, metavar="ID")
@hub_command
@pass_cli
def feasibility(cli: Cli, application_id: int) -> None:
    """How many persons match the application's criteria (noisy, rounded; "fewer than 11" below 11)."""
    try:
        counts = import_module(FEASIBILITY_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != FEASIBILITY_MODULE:
            raise
        raise BadInput("feasibility counts are not available in this version of Guichet") from None
    info = access.show(cli.hub, cli.actor, application_id=application_id)
    result = counts.feasibility(cli.hub, cli.actor, criteria=info.content.get("criteria"),
                                 application=str(application_id))
    cli.emit({"persons": result.persons, "shown": result.shown}, f"Application {application_id}: {result.shown}")


COMMANDS = [application]
