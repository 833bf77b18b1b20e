"""The top-level command group loads each command's module when it is used (guichet/cli/main.py): the list of
modules and the groups other modules extend must stay complete, and a light command must stay light."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module

import click

from guichet.cli.main import COMMAND_MODULES, EXTENDED_BY, MORE_COMMANDS, cli


def _walk(group: click.Group) -> Iterator[click.Command]:
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _walk(command)


def test_each_module_defines_the_command_named_after_it_and_those_listed_for_it() -> None:
    ctx = click.Context(cli, info_name="guichet")
    for name in COMMAND_MODULES:
        module = import_module(name)
        names = [name.rsplit(".", 1)[1], *(c for c, m in MORE_COMMANDS.items() if m == name)]
        assert sorted(c.name or "" for c in module.COMMANDS) == sorted(names), f"{name}: list it in MORE_COMMANDS"
        for command in module.COMMANDS:
            assert cli.get_command(ctx, command.name or "") is command, name
    assert set(MORE_COMMANDS.values()) <= set(COMMAND_MODULES)


def test_every_module_that_extends_a_group_is_listed_under_it() -> None:
    for name in COMMAND_MODULES:
        import_module(name)  # every extension is in place
    for name in COMMAND_MODULES:
        for group in import_module(name).COMMANDS:
            if not isinstance(group, click.Group):
                continue
            foreign = {c.callback.__module__ for c in _walk(group) if c.callback is not None} - {name}
            missing = sorted(foreign - set(EXTENDED_BY.get(group.name or "", ())))
            assert not missing, f"'guichet {group.name}' has commands from {missing}: list them in EXTENDED_BY"
    assert set(EXTENDED_BY) <= {n.rsplit(".", 1)[1] for n in COMMAND_MODULES} | set(MORE_COMMANDS)


def test_a_light_command_imports_neither_analysis_nor_web_libraries() -> None:
    code = ("import sys\n"
            "from guichet.cli.main import main\n"
            "try:\n"
            "    main(['user', '--help'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "heavy = ('duckdb', 'splink', 'rdflib', 'pyshacl', 'fastapi', 'sqlglot', 'pyspark', 'guichet.cli.demo')\n"
            "print('imported:', *(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert "Commands:" in out.stdout and "attest" in out.stdout, out.stdout  # permit's 'user attest' is there
    assert out.stdout.splitlines()[-1] == "imported:", f"'guichet user' {out.stdout.splitlines()[-1]}"
