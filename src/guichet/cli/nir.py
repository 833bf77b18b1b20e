"""``guichet nir check``: validate NIRs (control key, sex digit, département; provisional, fictitious)."""

from __future__ import annotations

import click

from guichet.cli.common import Cli, example, json_option, pass_cli
from guichet.custodian import nir as nirs


@click.group(epilog=example("guichet nir check 185057512345673 --json"))
def nir() -> None:
    """The French social-security number (NIR): checks only; nothing is stored."""


@nir.command("check", epilog=example("guichet nir check 185057512345673 2850375123456 --json"))
@click.argument("values", nargs=-1, required=True)
@json_option
@pass_cli
def check(cli: Cli, values: tuple[str, ...]) -> None:
    """Check NIRs: 13 characters + key = 97 − (number mod 97), 2A → 19 and 2B → 18, sex digit,
    month, département; provisional and fictitious NIRs answer valid: false with their kind.
    Exit 1 when any is invalid."""
    results = [nirs.check(v) for v in values]
    cli.emit([r.to_dict() for r in results],
             "\n".join(f"{r.value}: {'valid' if r.valid else 'invalid (' + str(r.reason) + ')'}" for r in results))
    if not all(r.valid for r in results):
        cli.problems()


COMMANDS = [nir]
