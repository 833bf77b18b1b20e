"""``guichet deposit ...`` and ``guichet producer add``: producers' deliveries entering the hub."""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, example, hub_command, pass_cli
from guichet.cli.producer import producer
from guichet.config import read_private_file, write_private_file
from guichet.deposit import services as deposits
from guichet.deposit.manifest import read_manifest
from guichet.deposit.model import CRASH_POINTS, DepositRequest, DepositResult
from guichet.deposit.rules import IdentifierRole
from guichet.deposit.run import single_file_request
from guichet.errors import BadInput


@click.group(epilog=example("guichet deposit run claims.csv --dataset ER_PRS_F --schema ER_PRS_F.json --json\n"
                            "guichet deposit run delivery/ --manifest delivery/manifest.toml --json"))
def deposit() -> None:
    """Deposit producers' files: validate every row, quarantine failures, write encrypted, version."""


def _identifiers(values: tuple[str, ...]) -> list[IdentifierRole]:
    roles = []
    for v in values:
        column, _, rest = v.partition(":")
        kind, _, state = rest.partition(":")
        kind = kind or "quasi"
        if kind not in ("psa", "ano", "quasi") or not column:
            raise BadInput(f"--identifiers {v}: COLUMN:psa|ano|quasi[:level1|clear|hub]")
        roles.append(IdentifierRole(column, kind, None if kind == "quasi" else (state or "level1")))
    return roles


def _text(results: list[DepositResult]) -> str:
    lines = []
    for r in results:
        if r.error:
            lines.append(f"{r.dataset}: rejected: {r.error}")
            continue
        reasons = ", ".join(f"{k} {v}" for k, v in r.quarantine_reasons.items()) or "none"
        lines.append(f"{r.dataset} v{r.version}: {r.status}; {r.rows_in} rows in, {r.rows_accepted} accepted, "
                     f"{r.rows_quarantined} quarantined (reasons: {reasons}); deposit {r.deposit_id}")
    return "\n".join(lines)


@deposit.command("run", epilog=example(
    "guichet deposit run ER_PRS_F.csv --dataset ER_PRS_F --schema ER_PRS_F.json --producer cnam --json\n"
    "guichet deposit run delivery-level1/ --manifest delivery-level1/manifest.toml --json"))
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dataset", metavar="ID", help="One file: the dataset it goes to.")
@click.option("--schema", "schema", type=click.Path(path_type=Path), help="One file: its Table Schema (JSON).")
@click.option("--producer", "producer_name", metavar="NAME", help="One file: the registered producer.")
@click.option("--identifiers", "identifiers", multiple=True, metavar="COL:KIND[:STATE]",
              help="One file: an identifier column (psa|ano|quasi; state level1 by default). Repeat.")
@click.option("--year", type=int, metavar="YYYY",
              help="One file: the year it holds of a dataset delivered by year (read from a name like T_MCO22B "
                   "for T_MCOaaB); it replaces that year only.")
@click.option("--manifest", type=click.Path(path_type=Path), help="A delivery: its manifest.toml.")
@click.option("--mode", type=click.Choice(["append", "replace"]), default="replace", show_default=True,
              help="Replace the dataset's rows, or add to them.")
@click.option("--partial", is_flag=True, help="A delivery: deposit the readable tables even if one is not.")
@click.option("--crash-at", type=click.Choice(CRASH_POINTS), hidden=True)  # test harness only
@hub_command
@pass_cli
def run(cli: Cli, path: Path, dataset: str | None, schema: Path | None, producer_name: str | None,
        identifiers: tuple[str, ...], year: int | None, manifest: Path | None, mode: str, partial: bool,
        crash_at: str | None) -> None:
    """Deposit one file (with --dataset and --schema) or a whole delivery (with --manifest).

    Exit 0 when every row was accepted, 1 when rows were quarantined (or the version is held or
    rejected by policy), 2 when a file cannot be read as a table (nothing of it is deposited)."""
    if manifest is not None:
        if dataset or schema or identifiers or year:
            raise BadInput("give either --manifest (a delivery) or --dataset/--schema (one file), not both")
        if not path.is_dir():
            raise BadInput(f"{path}: a delivery is a folder (with --manifest)")
        _domain, tables = read_manifest(path, manifest)
        request = DepositRequest(tuple(tables), mode=mode, partial=partial, delivery=True, crash_at=crash_at)
    else:
        if not dataset or not schema:
            raise BadInput("one file needs --dataset ID and --schema SCHEMA.json (or give --manifest)")
        if not path.is_file():
            raise BadInput(f"{path}: not a file")
        request = single_file_request(path.absolute(), dataset, schema, producer_name, mode,
                                      _identifiers(identifiers), crash_at, year)
    results = deposits.deposit(cli.hub, cli.actor, request=request)
    data = [r.to_dict() for r in results]
    cli.emit(data if request.delivery else data[0], lambda: _text(results))
    if any(r.error for r in results):
        raise SystemExit(2)
    if any(r.rows_quarantined or r.status in ("held", "rejected") for r in results):
        cli.problems()


@deposit.command("rejections", epilog=example(
    "guichet deposit rejections dp3f9a0c1d2e4b5a69 --json\n"
    "guichet deposit rejections dp3f9a0c1d2e4b5a69 --key-file cnam-private.pem --json"))
@click.argument("deposit_id")
@click.option("--key-file", type=click.Path(path_type=Path),
              help="The producer's private key (0600): opens the sealed identifier cells, on the producer's side.")
@hub_command
@pass_cli
def rejections(cli: Cli, deposit_id: str, key_file: Path | None) -> None:
    """A deposit's rejection report: each quarantined row's number, rules and cells (identifier and
    quasi-identifier cells only with the producer's private key)."""
    pem = read_private_file(key_file, "--key-file") + "\n" if key_file else None
    rows = deposits.rejections(cli.hub, cli.actor, deposit_id=deposit_id, private_key_pem=pem)
    cli.emit(rows, lambda: "\n".join(f"row {r['row']}: {', '.join(r['rules'])}" for r in rows) or "No rejected rows.")


@producer.command("add", epilog=example(
    "guichet producer add cnam --org 'Assurance Maladie' --key-out cnam-private.pem\n"
    "guichet producer add atih --org ATIH --public-key atih-public.pem --json"))
@click.argument("name")
@click.option("--org", required=True, metavar="ORG", help="The producer's organisation.")
@click.option("--public-key", type=click.Path(path_type=Path), help="The producer's X25519 public key (PEM).")
@click.option("--key-out", type=click.Path(path_type=Path),
              help="Make a key pair and write the private key here (0600) for the producer.")
@hub_command
@pass_cli
def add(cli: Cli, name: str, org: str, public_key: Path | None, key_out: Path | None) -> None:
    """Register a data producer. Its public key seals the identifier cells of its quarantined rows."""
    if (public_key is None) == (key_out is None):
        raise BadInput("give exactly one of --public-key FILE or --key-out FILE")
    if key_out is not None and key_out.exists():
        raise BadInput(f"--key-out {key_out}: exists; choose a new file")
    pem = None
    if public_key is not None:
        try:
            pem = public_key.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise BadInput(f"--public-key {public_key}: cannot be read") from None
    info, private = deposits.add_producer(cli.hub, cli.actor, name=name, org=org, public_key_pem=pem)
    if private is not None and key_out is not None:
        write_private_file(key_out, private)
    cli.emit(info.to_dict(), f"Registered producer {info.name} ({info.org}), key {info.key_fingerprint}"
             + (f"; private key written to {key_out} (0600)" if key_out else ""))


COMMANDS = [deposit]
