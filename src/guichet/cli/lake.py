"""``guichet lake ...``: the lake's register — datasets and their versions, snapshots."""

from __future__ import annotations

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.lake import services as lake


@click.group(epilog=example("guichet lake snapshot --json\nguichet lake show sn0123456789abcdef --json"))
def lake_group() -> None:
    """The lake: the register of dataset versions every stage reads, and snapshots of it."""


@lake_group.command("snapshot", epilog=example("guichet lake snapshot --as operator --json"))
@hub_command
@pass_cli
def snapshot(cli: Cli) -> None:
    """Record the current published version of every dataset and the person-index version under a new id:
    {"snapshot", "versions": {dataset: version}, "person_index": version}. Extract recipes and exports name
    a snapshot so that a result can be recomputed later on exactly the same data."""
    snap = lake.take_snapshot(cli.hub, cli.actor)
    cli.emit(_public(snap), lambda: _text(snap))


@lake_group.command("show", epilog=example("guichet lake show sn0123456789abcdef --json"))
@click.argument("snapshot_id", metavar="SNAPSHOT")
@hub_command
@pass_cli
def show(cli: Cli, snapshot_id: str) -> None:
    """A recorded snapshot: the same object ``guichet lake snapshot`` answered."""
    snap = lake.show_snapshot(cli.hub, cli.actor, snapshot=snapshot_id)
    cli.emit(_public(snap), lambda: _text(snap))


@lake_group.command("datasets", epilog=example("guichet lake datasets --json"))
@hub_command
@pass_cli
def datasets(cli: Cli) -> None:
    """Every dataset (a producer: its own) with its current published version and its latest version."""
    found = lake.list_datasets(cli.hub, cli.actor)
    cli.emit(found, lambda: "\n".join(
        f"{d['dataset']:<16} current {('v' + str(d['current'])) if d['current'] else '-':<6} latest "
        f"v{d['latest']['version']} {d['latest']['status']:<10} {d['latest']['rows_accepted']:>12,} rows"
        for d in found) or "No dataset yet.")


@lake_group.command("assign", epilog=example(
    "guichet lake assign IR_BEN_R --producer cnam --reason \"CNAM delivers the beneficiaries\" --as operator"))
@click.argument("dataset")
@click.option("--producer", required=True, help="The registered producer the dataset belongs to from now on.")
@click.option("--reason", required=True, help="Why (recorded in the audit trail; no identifier).")
@hub_command
@pass_cli
def assign(cli: Cli, dataset: str, producer: str, reason: str) -> None:
    """Give a dataset to a producer: only its organisation (or an operator, in its name) deposits it then."""
    out = lake.assign_dataset(cli.hub, cli.actor, dataset=dataset, producer=producer, reason=reason)
    cli.emit(out, f"dataset {out['dataset']} now belongs to producer {out['producer']}")


def _public(snap: dict[str, object]) -> dict[str, object]:
    return {k: snap[k] for k in ("snapshot", "versions", "person_index", "created_at")}


def _text(snap: dict[str, object]) -> str:
    versions = snap["versions"]
    assert isinstance(versions, dict)
    lines = [f"snapshot {snap['snapshot']} ({snap['created_at']}): {len(versions)} datasets, person index "
             f"{('v' + str(snap['person_index'])) if snap['person_index'] else 'none'}"]
    lines += [f"  {name:<16} v{v}" for name, v in sorted(versions.items())]
    return "\n".join(lines)


lake_group.name = "lake"
COMMANDS = [lake_group]
