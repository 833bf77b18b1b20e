"""``guichet producer ...``: what a data producer runs on its own side (level-1 pseudonymisation).

The ``producer`` group is defined here; other packages add their sub-commands to it (``producer add``)
with ``producer.add_command(...)`` in their own CLI module, or by a small edit below.
"""

from __future__ import annotations

from pathlib import Path

import click

from guichet.cli.common import Cli, example, json_option, pass_cli, progress
from guichet.custodian import producer as level1
from guichet.custodian.keys import read_domain_key_file
from guichet.errors import BadInput


@click.group(epilog=example("guichet producer pseudonymise delivery/ --manifest delivery/manifest.toml "
                            "--key-file snds.key --out delivery-level1/"))
def producer() -> None:
    """Data producers: pseudonymise a delivery before it leaves (clear NIRs never do)."""


@producer.command("pseudonymise", epilog=example(
    "guichet producer pseudonymise delivery/ --manifest delivery/manifest.toml --key-file snds.key --out out/\n"
    "guichet producer pseudonymise beneficiaries.csv --columns BEN_NIR_PSA:psa "
    "--psa-inputs BEN_NIR_OUV,BEN_NAI_DTE,BEN_SEX_COD --key-file snds.key --out pseudo.csv"))
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), help="The delivery's manifest.toml (state clear).")
@click.option("--columns", "columns", multiple=True, metavar="COL[:ano|psa]",
              help="One file: a pseudonym column (repeat). A lone NIR column defaults to ano.")
@click.option("--psa-inputs", metavar="NIR_COL,BIRTH_COL,SEX_COL", help="One file: the inputs of a psa column.")
@click.option("--delimiter", default=";", show_default=True, help="One file: the CSV delimiter.")
@click.option("--key-file", required=True, type=click.Path(path_type=Path),
              help="The sealed domain-key file from 'guichet custodian domain-key' (0600).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="A new folder (delivery) or file.")
@json_option
@pass_cli
def pseudonymise(cli: Cli, path: Path, manifest: Path | None, columns: tuple[str, ...], psa_inputs: str | None,
                 delimiter: str, key_file: Path, out: Path) -> None:
    """Replace clear identifiers by level-1 pseudonyms, row by row, in order. A NIR whose control key
    is wrong becomes the marker !invalid_nir_key; an empty cell stays empty."""
    key = read_domain_key_file(key_file)
    if manifest is not None:
        if columns or psa_inputs:
            raise BadInput("give either --manifest (a delivery) or --columns (one file), not both")
        if not path.is_dir():
            raise BadInput(f"{path}: a delivery is a folder (with --manifest)")
        entries = level1.load_manifest(manifest)["tables"]
        with progress(len(entries), "pseudonymising") as advance:
            reports = level1.pseudonymise_delivery(path, manifest, key, out, on_file=lambda _f: advance(1))
    else:
        if not columns:
            raise BadInput("give --manifest M (a delivery) or --columns COL[:ano|psa] (one file)")
        if not path.is_file():
            raise BadInput(f"{path}: not a file")
        specs = level1.parse_column_specs(list(columns), psa_inputs)
        reports = [level1.pseudonymise_file(path, specs, key, out, delimiter=delimiter)]
    data = {"out": str(out), "domain": key.domain, "key_id": key.key_id, "files": [r.to_dict() for r in reports]}
    cli.emit(data, lambda: "\n".join(
        [f"{r.file}: {r.rows} rows, {sum(r.pseudonymised.values())} pseudonyms, "
         f"{r.invalid_nir_key} invalid NIR keys, {r.empty} empty" for r in reports] + [f"Written to {out}"]))


COMMANDS = [producer]
