"""``guichet optout ...``: the opt-out register (right to object, EHDS Art 71)."""

from __future__ import annotations

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.custodian import optout as register
from guichet.custodian import services as custodian_services


@click.group(epilog=example("guichet optout add --nir 185057512345673 --birth-date 1985-05-03 --json\n"
                            "guichet optout count --json"))
def optout() -> None:
    """Objections to the secondary use of one's data: record, withdraw, count."""


@optout.command("add", epilog=example("guichet optout add --nir 185057512345673 --birth-date 1985-05-03 --json"))
@click.option("--nir", required=True, metavar="NIR", help="The person's NIR (15 characters).")
@click.option("--birth-date", required=True, metavar="YYYY-MM-DD", help="The person's birth date.")
@click.option("--scope", default="all", show_default=True, type=click.Choice(register.SCOPES),
              help="What the objection covers.")
@click.option("--rights-nir", metavar="NIR", help="The NIR of whoever opened the person's rights, if not theirs.")
@hub_command
@pass_cli
def add(cli: Cli, nir: str, birth_date: str, scope: str, rights_nir: str | None) -> None:
    """Record an objection. Answers a receipt (keep it to withdraw); the same answer whether or not
    the person is in any dataset."""
    receipt = custodian_services.add_optout(cli.hub, cli.actor, nir=nir, birth_date=birth_date, scope=scope,
                                            rights_nir=rights_nir)
    cli.emit({"receipt": receipt.receipt},
             f"Objection recorded. Receipt: {receipt.receipt} (keep it to withdraw the objection)")


@optout.command("withdraw", epilog=example("guichet optout withdraw --receipt MFRGGZDFMZTWQ2LKNNWG23TPOA"))
@click.option("--receipt", required=True, metavar="R", help="The receipt given when the objection was recorded.")
@hub_command
@pass_cli
def withdraw(cli: Cli, receipt: str) -> None:
    """Withdraw an objection with its receipt."""
    custodian_services.withdraw_optout(cli.hub, cli.actor, receipt=receipt)
    cli.emit({"withdrawn": True}, "Objection withdrawn")


@optout.command("record", epilog=example(
    "guichet optout record --nir 185057512345673 --birth-date 1985-05-03 --received-by post --as operator"))
@click.option("--nir", required=True, metavar="NIR", help="The person's NIR (15 characters).")
@click.option("--birth-date", required=True, metavar="YYYY-MM-DD", help="The person's birth date.")
@click.option("--received-by", required=True, type=click.Choice(custodian_services.RECEIVED_BY),
              help="How the request came.")
@click.option("--kind", default="objection", show_default=True, type=click.Choice(register.KINDS),
              help="An objection (Art 71) or the preference not to be informed of significant findings.")
@click.option("--scope", default="all", show_default=True, type=click.Choice(register.SCOPES),
              help="What the objection covers.")
@click.option("--rights-nir", metavar="NIR", help="The NIR of whoever opened the person's rights, if not theirs.")
@hub_command
@pass_cli
def record(cli: Cli, nir: str, birth_date: str, received_by: str, kind: str, scope: str,
           rights_nir: str | None) -> None:
    """An operator records a request received by post, at a counter or by phone (audited, never the NIR)."""
    receipt = custodian_services.record_optout(cli.hub, cli.actor, nir=nir, birth_date=birth_date,
                                               received_by=received_by, scope=scope, kind=kind, rights_nir=rights_nir)
    cli.emit({"receipt": receipt.receipt}, f"Recorded. Receipt: {receipt.receipt} (send it to the person)")


@optout.command("count", epilog=example("guichet optout count --json"))
@hub_command
@pass_cli
def count(cli: Cli) -> None:
    """How many objections are active (and withdrawn)."""
    counts = custodian_services.count_optouts(cli.hub, cli.actor)
    cli.emit(counts, f"{counts['active']} active objections ({counts['withdrawn']} withdrawn)")


COMMANDS = [optout]
