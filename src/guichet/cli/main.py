"""Entry point of the ``guichet`` command: exit codes and one-line errors for every sub-command.

Sub-commands load lazily: ``guichet user list`` imports ``guichet.cli.user`` (and the modules that extend
it), not every command module and their dependencies (DuckDB, Splink, rdflib, FastAPI...), which cost about
1.7 CPU-seconds per start. Listing the commands (``guichet --help``) still imports every module.
"""

from __future__ import annotations

import sys
import traceback
from importlib import import_module
from typing import Any

import click

from guichet import __version__
from guichet.cli.common import Cli, example
from guichet.config import private_files
from guichet.errors import EXIT_REFUSED, GuichetError, Refused

# Each module defines one noun (or a top-level verb), named as the module (guichet.cli.user defines
# "guichet user"), and is listed here once.
COMMAND_MODULES = (
    "guichet.cli.init",
    "guichet.cli.user",
    "guichet.cli.audit",
    "guichet.cli.doctor",
    "guichet.cli.demo",
    "guichet.cli.synth",
    "guichet.cli.custodian",
    "guichet.cli.nir",
    "guichet.cli.producer",
    "guichet.cli.deposit",
    "guichet.cli.lake",
    "guichet.cli.catalogue",
    "guichet.cli.delivery",
    "guichet.cli.quality",
    "guichet.cli.link",
    "guichet.cli.criteria",
    "guichet.cli.optout",
    "guichet.cli.application",
    "guichet.cli.review",
    "guichet.cli.panel",
    "guichet.cli.cgm",
    "guichet.cli.permit",  # permits, fee estimates; adds "user attest"
    "guichet.cli.workspace",
    "guichet.cli.airlock",
    "guichet.cli.stats",
    "guichet.cli.jobs",
    "guichet.cli.report",  # the activity report, complaints
    "guichet.cli.serve",
)

# A module that defines more than the command named after it lists the others here (name -> module).
MORE_COMMANDS = {
    "complaint": "guichet.cli.report",
}

# A module that adds sub-commands to another module's group is listed under that group's name, so that the
# group is complete when it loads alone (tests/unit/test_cli_lazy.py checks this list against the modules).
EXTENDED_BY = {
    "user": ("guichet.cli.permit",),  # user attest
    "producer": ("guichet.cli.deposit",),  # producer add
}


class LazyGroup(click.Group):
    """The top-level group: a command's module is imported when the command is used or listed."""

    def __init__(self, *args: Any, modules: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = {name.rsplit(".", 1)[1]: name for name in modules} | MORE_COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self._load(cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, cmd_name: str) -> None:
        for command in import_module(self.lazy[cmd_name]).COMMANDS:
            if command.name not in self.commands:
                self.add_command(command)
        for name in EXTENDED_BY.get(cmd_name, ()):
            import_module(name)


@click.group(
    cls=LazyGroup,
    modules=COMMAND_MODULES,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=example("guichet demo --home demo-hub\nguichet user list --home demo-hub --json"),
)
@click.version_option(__version__, prog_name="guichet")
def cli() -> None:
    """Guichet, the health data hub: catalogue, deposit, quality, linkage, governed access, audit.

    Commands are 'guichet NOUN VERB'; each has --help with an example, and --json for machine-readable
    output. Exit codes: 0 success, 1 ran but found problems, 2 bad usage, bad input or refusal.
    """


def _internal_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if "/guichet/" in f.filename), frames[-1] if frames else None)
    loc = f" in {where.filename.rsplit('/guichet/', 1)[-1]}:{where.lineno}" if where else ""
    # The exception's message may carry data values: only its type and place are shown.
    return f"guichet: internal error: {type(exc).__name__}{loc}; please report it"


def main(argv: list[str] | None = None) -> None:
    private_files()
    ctx_obj = Cli()
    code = 0
    try:
        cli.main(args=argv, prog_name="guichet", standalone_mode=False, obj=ctx_obj)
    except GuichetError as exc:
        if isinstance(exc, Refused):
            ctx_obj.audit_refusal("cli." + "_".join(a for a in (argv or sys.argv[1:])[:2] if not a.startswith("-")), exc)
        click.echo(f"guichet: {exc.message}", err=True)
        code = exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        code = EXIT_REFUSED
    except click.ClickException as exc:
        click.echo(f"guichet: {exc.format_message().splitlines()[0]}", err=True)
        code = EXIT_REFUSED
    except click.exceptions.Abort:
        click.echo("guichet: aborted", err=True)
        code = EXIT_REFUSED
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    except KeyboardInterrupt:
        click.echo("guichet: interrupted", err=True)
        code = 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for a person
        click.echo(_internal_error(exc), err=True)
        code = EXIT_REFUSED
    finally:
        ctx_obj.close()
    sys.exit(code)
