"""``guichet catalogue ...``: products, their description and dictionary, search, export; a dataset's versions."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import click

from guichet.catalogue import services as svc
from guichet.catalogue.model import pick
from guichet.catalogue.properties import KEYS, parse_assignments
from guichet.cli.common import Cli, example, hub_command, json_option, pass_cli
from guichet.errors import BadInput


@click.command("load-schemas", epilog=example(
    "guichet catalogue load-schemas shared/data/snds/schema-snds/schemas --json"))
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--joins", type=click.Path(path_type=Path), default=None, metavar="CSV",
              help="A join graph (source_table;target_table;join_vars). Default: ../../derived/"
                   "snds_join_graph_from_dico.csv next to schema-snds, when there.")
@hub_command
@pass_cli
def load_schemas(cli: Cli, folder: Path, joins: Path | None) -> None:
    """Load a folder of Table Schemas into the catalogue: one product per sub-folder, its tables, their dictionary.

    Loading the same folder again changes nothing. Products stay drafts until every mandatory property is
    set (see 'guichet catalogue configure' and 'guichet catalogue describe')."""
    report = svc.load_schemas(cli.hub, cli.actor, folder=folder.absolute(), join_graph=joins)

    def text() -> str:
        counts: dict[str, int] = {}
        for outcome in report.products.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        lines = [f"{len(report.products)} products, {report.tables} tables, {report.variables} variables "
                 f"({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})",
                 f"complete: {', '.join(report.complete) or 'none'}"]
        lines += [f"draft {pid}: {'; '.join(problems[:3])}" for pid, problems in sorted(report.drafts.items())]
        return "\n".join(lines)

    cli.emit(report.to_dict(), text)


@click.command("configure", epilog=example(
    "guichet catalogue configure --set publisher_name='Plateforme des données de santé' \\\n"
    "  --set publisher_email=catalogue@health-data-hub.fr --json"))
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE", help=f"A property (repeat). Keys: {', '.join(KEYS)}.")
@hub_command
@pass_cli
def configure(cli: Cli, pairs: tuple[str, ...]) -> None:
    """Set the catalogue's hub-wide properties (publisher, contact point, access rights, legal basis...)."""
    if not pairs:
        props = {k: cli.hub.config.properties.get(k) for k in KEYS}
        cli.emit(props, "\n".join(f"{k:<24} {v if v is not None else '(not set)'}" for k, v in props.items()))
        return
    out = svc.configure(cli.hub, cli.actor, properties=parse_assignments(pairs))
    cli.emit(out, f"Saved {len(out['properties'])} properties; {len(out['complete'])} complete products, "
                  f"{len(out['drafts'])} drafts")


@click.command("list", epilog=example("guichet catalogue list --theme HEAL --json"))
@click.option("--theme", metavar="CODE", help="Only products of this EU data theme (HEAL, SOCI...).")
@click.option("--producer", metavar="NAME", help="Only products of this producer.")
@click.option("--status", type=click.Choice(["draft", "complete"]), help="Only drafts, or only complete entries.")
@hub_command
@pass_cli
def list_(cli: Cli, theme: str | None, producer: str | None, status: str | None) -> None:
    """List the catalogue's products."""
    found = svc.list_products(cli.hub, cli.actor, theme=theme, producer=producer, status=status)
    cli.emit([p.to_dict() for p in found], lambda: "\n".join(
        f"{p.id:<26} {p.status:<9} {p.tables:>3} tables {p.variables:>5} variables  {pick(p.title, 'en')}"
        for p in found) or "No products (run 'guichet catalogue load-schemas DIR').")


@click.command("show", epilog=example("guichet catalogue show dcir --variables --json"))
@click.argument("product")
@click.option("--variables", is_flag=True, help="Include every table's variables (the dictionary).")
@hub_command
@pass_cli
def show(cli: Cli, product: str, variables: bool) -> None:
    """Show a product: description, tables, join keys, schema history, status."""
    info = svc.show_product(cli.hub, cli.actor, product_id=product, with_variables=variables)

    def text() -> str:
        lines = [f"{info.id} ({info.code}) — {info.status}", pick(info.title, "en"), pick(info.description, "en"),
                 f"producer: {info.producer_label or info.producer or '(none)'}; themes: {', '.join(info.themes)}"]
        lines += [f"  {t.name:<20} {pick(t.title, 'fr')}" for t in info.tables]
        lines += [f"  problem: {p}" for p in info.problems]
        return "\n".join(lines)

    cli.emit(info.to_dict(with_variables=variables), text)


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@click.command("describe", epilog=example(
    "guichet catalogue describe dcir --file dcir.toml\n"
    "guichet catalogue describe dcir --set frequency=MONTHLY --set 'keywords=[\"claims\",\"SNDS\"]'"))
@click.argument("product")
@click.option("--file", "file_", type=click.Path(path_type=Path), help="A TOML file of fields to set.")
@click.option("--set", "pairs", multiple=True, metavar="FIELD=VALUE", help="A field (JSON values accepted).")
@hub_command
@pass_cli
def describe(cli: Cli, product: str, file_: Path | None, pairs: tuple[str, ...]) -> None:
    """Fill or change a product's description (operators, or the product's own producer)."""
    changes: dict[str, Any] = {}
    if file_ is not None:
        try:
            changes.update(tomllib.loads(file_.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{file_}: not a readable TOML file ({type(exc).__name__})") from None
    changes.update({k: _value(v) for k, v in parse_assignments(pairs).items()})
    if not changes:
        raise BadInput("describe: nothing to change (--file or --set)")
    info = svc.describe_product(cli.hub, cli.actor, product_id=product, changes=changes)
    cli.emit(info.to_dict(with_variables=False), f"{info.id}: {info.status}" + "".join(
        f"\n  problem: {p}" for p in info.problems))


@click.command("search", epilog=example("guichet catalogue search 'causes de deces' --json"))
@click.argument("text")
@click.option("--limit", default=20, show_default=True, help="At most this many results.")
@hub_command
@pass_cli
def search(cli: Cli, text: str, limit: int) -> None:
    """Search products, tables and variables (accents and case do not matter)."""
    hits = svc.search_catalogue(cli.hub, cli.actor, text=text, limit=limit)
    cli.emit([h.to_dict() for h in hits], lambda: "\n".join(
        f"{h.kind:<9} {h.product_id:<22} {h.ref:<32} {h.snippet[:70]}" for h in hits) or "Nothing found.")


@click.command("export", epilog=example("guichet catalogue export --format ttl --out catalogue.ttl"))
@click.option("--format", "fmt", type=click.Choice(["ttl", "jsonld"]), default="ttl", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write to this file (default: stdout).")
@hub_command
@pass_cli
def export(cli: Cli, fmt: str, out: Path | None) -> None:
    """Export the catalogue as HealthDCAT-AP, validated with SHACL first (drafts are left out).

    Exit 1 (and nothing written) when the graph does not conform to the pinned shapes."""
    result = svc.export_catalogue(cli.hub, cli.actor, fmt=fmt)
    if not result.validation.conforms:
        bad = [v for v in result.validation.violations if v.severity == "Violation"]
        click.echo(f"guichet: catalogue export: {len(bad)} SHACL violations; first: {bad[0].line()}", err=True)
        cli.problems()
    if out is not None:
        out.write_text(result.text, encoding="utf-8")
        summary = {"format": fmt, "out": str(out), "datasets": result.datasets, "conforms": True, "violations": 0}
        cli.emit(summary, f"Wrote {result.datasets} datasets to {out} ({fmt}, 0 SHACL violations)")
    elif cli.json and fmt == "ttl":
        cli.emit({"format": fmt, "datasets": result.datasets, "conforms": True, "text": result.text})
    else:
        click.echo(result.text, nl=False)


@click.command("validate", epilog=example("guichet catalogue validate catalogue.ttl --json"))
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_cli
def validate_file(cli: Cli, file: Path) -> None:
    """Validate a HealthDCAT-AP file (Turtle or JSON-LD) offline against the pinned shapes; exit 1 on violations."""
    from rdflib import Graph

    from guichet.catalogue.shacl import validate

    fmt = "json-ld" if file.suffix in (".jsonld", ".json") else "turtle"
    try:
        graph = Graph().parse(file, format=fmt)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise BadInput(f"{file}: not readable as {fmt} ({type(exc).__name__})") from None
    result = validate(graph)
    bad = [v for v in result.violations if v.severity == "Violation"]
    cli.emit({"file": str(file), "triples": len(graph), **result.to_dict()}, lambda: "\n".join(
        [f"{file}: {len(graph)} triples, {len(bad)} violations"] + [f"  {v.line()}" for v in bad[:50]]))
    if bad:
        cli.problems()


@click.command("publish", epilog=example("guichet catalogue publish --json"))
@hub_command
@pass_cli
def publish(cli: Cli) -> None:
    """Re-check every entry and store the validated graph that /api/catalogue.ttl serves."""
    out = svc.publish_catalogue(cli.hub, cli.actor)
    cli.emit(out, f"{out['datasets']} datasets; conforms: {out['conforms']}")
    if not out["conforms"]:
        cli.problems()


@click.command("review", epilog=example("guichet catalogue review dcir --as cnam.producer"))
@click.argument("product")
@hub_command
@pass_cli
def review(cli: Cli, product: str) -> None:
    """Confirm the yearly review of a product's description."""
    info = svc.review_product(cli.hub, cli.actor, product_id=product)
    cli.emit(info.to_dict(with_variables=False), f"{info.id}: reviewed")


@click.command("reminders", epilog=example("guichet catalogue reminders --as cnam.producer --json"))
@click.option("--within", "within_days", default=0, show_default=True, help="Also what falls due within N days.")
@hub_command
@pass_cli
def reminders(cli: Cli, within_days: int) -> None:
    """Products whose yearly description review is due."""
    due = svc.due_reviews(cli.hub, cli.actor, within_days=within_days)
    cli.emit([d.to_dict() for d in due], lambda: "\n".join(
        f"{d.id:<26} last reviewed {d.reviewed_at:%Y-%m-%d}" if d.reviewed_at else f"{d.id:<26} never reviewed"
        for d in due) or "No review is due.")
    if due:
        cli.problems()


@click.command("retract", epilog=example(
    "guichet catalogue retract ER_PRS_F --version 3 --reason 'wrong flow month sent by the producer'"))
@click.argument("dataset")
@click.option("--version", "version", type=int, required=True, help="The published version.")
@click.option("--reason", required=True, help="Why (published with the catalogue entry).")
@click.option("--replaced-by", type=int, help="Mark it superseded by this later version instead of retracting it.")
@hub_command
@pass_cli
def retract(cli: Cli, dataset: str, version: int, reason: str, replaced_by: int | None) -> None:
    """Retract a published version (it stops being used) or mark it superseded, with a reason."""
    note = svc.retract_version(cli.hub, cli.actor, dataset=dataset, version=version, reason=reason,
                               replaced_by=replaced_by)
    cli.emit(note, f"{dataset} v{version}: {note['action']}")


@click.group("catalogue", epilog=example("guichet catalogue versions ER_PRS_F --json"))
def catalogue_group() -> None:
    """The catalogue of datasets."""


@catalogue_group.command("versions", epilog=example("guichet catalogue versions ER_PRS_F --all --json"))
@click.argument("dataset")
@click.option("--all", "include_all", is_flag=True, help="Every version, not only published ones.")
@hub_command
@pass_cli
def versions(cli: Cli, dataset: str, include_all: bool) -> None:
    """A dataset's versions: [{version, status, rows, files, sha256}]."""
    found = svc.list_versions(cli.hub, cli.actor, dataset=dataset, include_all=include_all)
    cli.emit([v.to_dict() for v in found], lambda: "\n".join(
        f"v{v.version:<5} {v.status:<12} {v.rows:>10} rows  {len(v.files)} file(s)  {v.sha256[:16]}" for v in found)
        or f"No versions of {dataset}.")


for _command in (load_schemas, configure, list_, show, describe, search, export, validate_file, publish, review,
                 reminders, retract):
    catalogue_group.add_command(_command)
COMMANDS = [catalogue_group]
