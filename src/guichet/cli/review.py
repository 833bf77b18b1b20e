"""``guichet review ...``: the reviewers' steps on an application — panels' opinions, the authority's
decision and its one extension, notes per section. Opinions and decisions are decisions: in production they
need ``--totp``."""

from __future__ import annotations

import click

from guichet.access import services as access
from guichet.access.workflow import PANELS, SECTIONS
from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.errors import BadInput


def _vote(text: str | None) -> dict[str, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise BadInput("--vote: FOR,AGAINST,ABSTAIN (three counts, e.g. 5,1,0)")
    return dict(zip(("for", "against", "abstain"), (int(p) for p in parts), strict=True))


def _conflicts(values: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for value in values:
        member, sep, declaration = value.partition(":")
        if not sep or not member.strip() or not declaration.strip():
            raise BadInput("--conflict: USER:DECLARATION (what the conflict is)")
        out.append({"member": member.strip(), "declaration": declaration.strip()})
    return out


@click.group(epilog=example("guichet review opinion 1 --favourable --reason 'sound design' --as claire\n"
                            "guichet review decide 1 --authorise --reason 'favourable opinion' --as arthur"))
def review() -> None:
    """Reviewers' steps: panels' opinions, the authority's decision, notes on sections."""


@review.command("opinion", epilog=example(
    "guichet review opinion 1 --favourable --reason 'sound design' --as claire\n"
    "guichet review opinion 1 --unfavourable --reason 'no public benefit shown' --panel citizens --as paul\n"
    "guichet review opinion 1 --revise --reason 'justify the variables' --present claire --present "
    "marc --vote 2,0,0 --conflict 'nina:co-author of the applicant' --as claire"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--favourable", "outcome", flag_value="favourable", help="The panel is in favour.")
@click.option("--unfavourable", "outcome", flag_value="unfavourable", help="The panel is against.")
@click.option("--revise", "outcome", flag_value="revise", help="The applicant must revise (scientific panel).")
@click.option("--reason", required=True, metavar="TEXT", help="The opinion's reasons.")
@click.option("--panel", type=click.Choice(tuple(PANELS)), default="scientific", show_default=True,
              help="The panel giving it (the citizens' panel's opinion is non-binding).")
@click.option("--rapporteur", metavar="USER", help="The member who reported (default: you).")
@click.option("--present", "present", multiple=True, metavar="USER", help="A member present (repeat; you are).")
@click.option("--vote", metavar="F,A,AB", help="Votes for, against, abstaining (default: all present for).")
@click.option("--conflict", "conflicts", multiple=True, metavar="USER:DECLARATION",
              help="A member's declared conflict of interest (they take no part; repeat).")
@hub_command
@pass_cli
def opinion(cli: Cli, application_id: int, outcome: str | None, reason: str, panel: str, rapporteur: str | None,
            present: tuple[str, ...], vote: str | None, conflicts: tuple[str, ...]) -> None:
    """Record a panel's opinion on an application (a decision)."""
    if outcome is None:
        raise BadInput("say --favourable, --unfavourable or --revise")
    s = access.opinion(cli.hub, cli.actor, application_id=application_id, outcome=outcome, reason=reason,
                       panel=panel, rapporteur=rapporteur, present=list(present) or None, vote=_vote(vote),
                       conflicts=_conflicts(conflicts))
    cli.emit(s.to_dict(), f"Application {s.id}: {panel} opinion {outcome} recorded; it is {s.state}")


@review.command("decide", epilog=example("guichet review decide 1 --authorise --reason 'favourable opinion' --as arthur"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--authorise/--refuse", default=None, help="The decision (required).")
@click.option("--reason", required=True, metavar="TEXT", help="The decision's reasons.")
@hub_command
@pass_cli
def decide(cli: Cli, application_id: int, authorise: bool | None, reason: str) -> None:
    """The authority authorises or refuses an application after the scientific opinion (a decision)."""
    if authorise is None:
        raise BadInput("say --authorise or --refuse")
    s = access.decide(cli.hub, cli.actor, application_id=application_id, authorise=authorise, reason=reason)
    cli.emit(s.to_dict(), f"Application {s.id} is {s.state}")


@review.command("extend", epilog=example("guichet review extend 1 --reason 'complex linkage to assess' --as arthur"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why the decision needs more time.")
@hub_command
@pass_cli
def extend(cli: Cli, application_id: int, reason: str) -> None:
    """Extend the decision's due date, once (a decision)."""
    s = access.extend(cli.hub, cli.actor, application_id=application_id, reason=reason)
    cli.emit(s.to_dict(), f"Application {s.id}: decision due {s.due}")


@review.command("note", epilog=example(
    "guichet review note 1 --section safeguards --text 'which output checks?' --to-applicant --as claire"))
@click.argument("application_id", type=int, metavar="ID")
@click.option("--section", required=True, type=click.Choice(SECTIONS), help="The section the note is about.")
@click.option("--text", required=True, metavar="TEXT", help="The note (no identifiers).")
@click.option("--to-applicant", is_flag=True, help="Address it to the applicant (default: reviewers only).")
@hub_command
@pass_cli
def note(cli: Cli, application_id: int, section: str, text: str, to_applicant: bool) -> None:
    """Leave a note on a section of an application, private to the reviewers or for the applicant."""
    n = access.note(cli.hub, cli.actor, application_id=application_id, section=section, text=text,
                    to_applicant=to_applicant)
    cli.emit(n.to_dict(), f"Note on {n.section} for the {n.audience} recorded")


COMMANDS = [review]
