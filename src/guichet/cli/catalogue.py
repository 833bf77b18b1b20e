"""``guichet catalogue ...``: datasets and their versions (versions only, for now)."""

from __future__ import annotations

import click

from guichet.catalogue import services as catalogue
from guichet.cli.common import Cli, example, hub_command, pass_cli


@click.group(epilog=example("guichet catalogue versions ER_PRS_F --json"))
def catalogue_group() -> None:
    """The catalogue of datasets."""


@catalogue_group.command("versions", epilog=example("guichet catalogue versions ER_PRS_F --all --json"))
@click.argument("dataset")
@click.option("--all", "include_all", is_flag=True, help="Every version, not only published ones.")
@hub_command
@pass_cli
def versions(cli: Cli, dataset: str, include_all: bool) -> None:
    """A dataset's versions: [{version, status, rows, files, sha256}]."""
    found = catalogue.list_versions(cli.hub, cli.actor, dataset=dataset, include_all=include_all)
    cli.emit([v.to_dict() for v in found], lambda: "\n".join(
        f"v{v.version:<5} {v.status:<12} {v.rows:>10} rows  {len(v.files)} file(s)  {v.sha256[:16]}" for v in found)
        or f"No versions of {dataset}.")


from guichet.cli.catalogue_commands import SUBCOMMANDS as _catalogue_commands  # noqa: E402

for _command in _catalogue_commands:
    catalogue_group.add_command(_command)
catalogue_group.name = "catalogue"
COMMANDS = [catalogue_group]
