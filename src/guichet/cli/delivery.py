"""``guichet delivery ...``: producers' deliveries — send one to a portal, list and read them, open a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from guichet.cli.common import Cli, example, hub_command, json_option, pass_cli, progress
from guichet.config import read_private_file
from guichet.delivery import services as deliveries
from guichet.delivery.client import Api, send
from guichet.delivery.model import DeliveryInfo, open_report, read_report
from guichet.errors import BadInput


@click.group(epilog=example("guichet delivery send delivery.zip --url https://hub.example.fr --token-file cnam.token\n"
                            "guichet delivery list --json"))
def delivery() -> None:
    """Producers' deliveries: resumable uploads, receipts, deposit results, rejection reports."""


def _line(d: DeliveryInfo | dict[str, Any]) -> str:
    x = d.to_dict() if isinstance(d, DeliveryInfo) else d
    deposits = x.get("result", {}).get("deposits", [])
    extra = ", ".join(f"{r['dataset']} v{r.get('version') or '-'} {r['status']} ({r['rows_quarantined']} quarantined)"
                      for r in deposits)
    progress_text = f"{x['received']}/{x['size']} bytes" if x["status"] == "open" else x["sha256"][:16]
    return f"{x['id']}  {x['status']:<10} {x['producer']:<10} {x['filename']}  {progress_text}  {extra}".rstrip()


@delivery.command("send", epilog=example(
    "guichet delivery send delivery-level1.zip --url http://127.0.0.1:8000 --token-file cnam.token\n"
    "guichet delivery send ER_PRS_F.csv --dataset ER_PRS_F --url http://127.0.0.1:8000 --token-file cnam.token\n"
    "guichet delivery send delivery-level1.zip --resume dl0123456789abcdef --url http://127.0.0.1:8000 "
    "--token-file cnam.token"))
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--url", required=True, metavar="URL", help="The portal's address.")
@click.option("--token-file", "token_file", required=True, type=click.Path(path_type=Path),
              help="A 0600 file holding the producer account's API token.")
@click.option("--dataset", metavar="ID", help="One CSV file: the dataset it goes to (a .zip names them).")
@click.option("--mode", type=click.Choice(["replace", "append"]), default="replace", show_default=True)
@click.option("--identifiers", multiple=True, metavar="COL:KIND[:STATE]",
              help="One CSV file: an identifier column (default: those of the dataset's last version). Repeat.")
@click.option("--delimiter", metavar="CHAR", help="One CSV file: its delimiter.")
@click.option("--producer", metavar="NAME", help="When the account acts for several producers.")
@click.option("--resume", metavar="ID", help="Resume an upload that was cut: send only its missing chunks.")
@json_option
@pass_cli
def send_cmd(cli: Cli, file: Path, url: str, token_file: Path, dataset: str | None, mode: str,
             identifiers: tuple[str, ...], delimiter: str | None, producer: str | None, resume: str | None) -> None:
    """Upload a delivery (.zip of a delivery folder, or one CSV) in resumable chunks, then deposit it.

    Exit 0 when every row was accepted, 1 when rows were quarantined or a version was held or rejected,
    2 when the delivery was refused (bad file, altered transfer, not your producer...)."""
    token = read_private_file(token_file, "--token-file").strip()
    options: dict[str, Any] = {"mode": mode, "kind": "archive" if file.suffix.lower() == ".zip" else "file"}
    options.update({k: v for k, v in {"dataset": dataset, "delimiter": delimiter, "producer": producer}.items() if v})
    if identifiers:
        options["identifiers"] = list(identifiers)
    with progress(file.stat().st_size, f"sending {file.name}") as advance:
        d = send(Api(url, token), file, options, resume, advance)
    cli.emit(d, lambda: _line(d) + (f"\nreceipt {d['receipt'].get('receipt_sha256', '')}" if d.get("receipt") else ""))
    if d["status"] == "failed":
        raise BadInput(f"delivery {d['id']}: refused by the deposit: {d.get('result', {}).get('error', 'see its page')}")
    if any(r.get("rows_quarantined") or r.get("status") in ("held", "rejected")
           for r in d.get("result", {}).get("deposits", [])):
        cli.problems()


@delivery.command("list", epilog=example("guichet delivery list --as cnam.producer --json"))
@click.option("--status", type=click.Choice(["open", "received", "deposited", "failed"]))
@hub_command
@pass_cli
def list_cmd(cli: Cli, status: str | None) -> None:
    """Deliveries, newest first (a producer: its own organisation's)."""
    found = deliveries.list_deliveries(cli.hub, cli.actor, status=status)
    cli.emit([d.to_dict() for d in found], lambda: "\n".join(_line(d) for d in found) or "No deliveries.")


@delivery.command("show", epilog=example("guichet delivery show dl0123456789abcdef --json"))
@click.argument("delivery_id")
@hub_command
@pass_cli
def show_cmd(cli: Cli, delivery_id: str) -> None:
    """One delivery: bytes received and missing chunks, receipt, deposit result."""
    d = deliveries.show_delivery(cli.hub, cli.actor, delivery_id=delivery_id)
    cli.emit(d.to_dict(), lambda: _line(d))


@delivery.command("open-report", epilog=example(
    "guichet delivery open-report dl0123456789abcdef-rejections.sealed.json --key-file cnam-private.pem --json"))
@click.argument("report", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key-file", required=True, type=click.Path(path_type=Path),
              help="The producer's private key (0600), given when the producer was registered.")
@json_option
@pass_cli
def open_report_cmd(cli: Cli, report: Path, key_file: Path) -> None:
    """Open a downloaded sealed rejection report on the producer's side (no hub needed): every cell of every
    quarantined row, with its row number and rules."""
    pem = read_private_file(key_file, "--key-file") + "\n"
    rows = open_report(read_report(report), pem)
    cli.emit(rows, lambda: "\n".join(
        f"{r['dataset']} row {r['row']}: {', '.join(r['rules'])}  " + "; ".join(f"{k}={v}" for k, v in r["cells"].items())
        for r in rows) or "No rejected rows.")


COMMANDS = [delivery]
