"""Reading a folder of Table Schemas (schema-snds layout: one folder per product) into plain data.

``read_schema_dir(DIR)`` finds every folder that holds ``*.json`` schemas (``PMSI/PMSI MCO`` is the product
``PMSI MCO``), parses each schema with the ``schema`` package, and adds the product-level description the
package ships for known SNDS products (``snds_products.toml``). Join keys come from each schema's
``foreignKeys`` and, when present, from the dico-snds join graph (``snds_join_graph_from_dico.csv``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from guichet.catalogue.model import Text, slug
from guichet.errors import BadInput
from guichet.schema import parse_schema
from guichet.schema.model import canonical_json
from guichet.schema.nomenclatures import resolve

PRODUCTS_FILE = Path(__file__).parent / "snds_products.toml"
JOIN_GRAPH_NAME = "snds_join_graph_from_dico.csv"


@dataclass(frozen=True)
class SourceVariable:
    name: str
    type: str
    format: str | None
    length: str | None
    required: bool
    description: Text
    nomenclature: str | None
    nomenclature_shipped: bool
    constraints: dict[str, Any]
    history: dict[str, Any]


@dataclass(frozen=True)
class SourceTable:
    name: str
    title: Text
    description: Text
    primary_key: tuple[str, ...]
    sha256: str
    raw: dict[str, Any] = field(compare=False, repr=False)
    variables: tuple[SourceVariable, ...] = ()


@dataclass(frozen=True)
class SourceJoin:
    table: str
    fields: tuple[str, ...]
    ref_table: str
    ref_fields: tuple[str, ...]
    origin: str
    note: str | None = None


@dataclass(frozen=True)
class SourceProduct:
    id: str
    code: str
    folder: str  # relative to the loaded folder
    meta: dict[str, Any]  # the known description (snds_products.toml) or {}
    tables: tuple[SourceTable, ...]
    joins: tuple[SourceJoin, ...]

    def content_sha256(self) -> str:
        """Identity of everything loaded for the product: same schemas and description -> same digest."""
        body = {"meta": self.meta, "tables": [t.sha256 for t in self.tables],
                "joins": [[j.table, list(j.fields), j.ref_table, list(j.ref_fields), j.origin] for j in self.joins]}
        return hashlib.sha256(canonical_json(body)).hexdigest()


@cache
def known_products() -> dict[str, dict[str, Any]]:
    data = tomllib.loads(PRODUCTS_FILE.read_text(encoding="utf-8"))
    return dict(data.get("products", {}))


def _text(fr: Any, en: Any = None) -> Text:
    out: Text = {}
    if isinstance(fr, str) and fr.strip():
        out["fr"] = fr.strip()
    if isinstance(en, str) and en.strip():
        out["en"] = en.strip()
    return out


def _variable(raw: dict[str, Any], where: str) -> SourceVariable:
    nom = raw.get("nomenclature")
    nom_name = nom.strip() if isinstance(nom, str) and nom.strip() not in ("", "-") else None
    shipped = False
    if nom_name:
        from guichet.schema.model import NomenclatureRef

        name, _, column = nom_name.partition(":")
        shipped = resolve(NomenclatureRef(name, column or None)) is not None
    length = raw.get("length")
    history = {k: raw[k] for k in ("dateCreated", "dateDeleted", "dateMissing") if raw.get(k)}
    return SourceVariable(
        name=str(raw["name"]), type=str(raw.get("type") or "string"),
        format=str(raw["format"]) if raw.get("format") not in (None, "", "default") else None,
        length=str(length) if length not in (None, "", "-") else None,
        required=bool((raw.get("constraints") or {}).get("required", False)),
        description=_text(raw.get("description"), raw.get("description_en")),
        nomenclature=nom_name, nomenclature_shipped=shipped,
        constraints={k: v for k, v in (raw.get("constraints") or {}).items() if k != "description"},
        history=history)


def read_table(path: Path) -> tuple[SourceTable, list[SourceJoin]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise BadInput(f"{path}: not a readable JSON Table Schema") from None
    schema = parse_schema(raw, str(path))  # the same checks as a deposit's schema
    variables = tuple(_variable(f, str(path)) for f in raw["fields"])
    description = _text(" ".join(x for x in (raw.get("champ"), raw.get("observation")) if isinstance(x, str) and x.strip()),
                        raw.get("description_en"))
    table = SourceTable(name=schema.name, title=_text(raw.get("title"), raw.get("title_en")), description=description,
                        primary_key=schema.primary_key, sha256=schema.sha256, raw=raw, variables=variables)
    joins = [SourceJoin(schema.name, fk.fields, fk.resource, fk.ref_fields, "schema") for fk in schema.foreign_keys]
    return table, joins


def _dico_joins(path: Path | None) -> dict[str, list[SourceJoin]]:
    found: dict[str, list[SourceJoin]] = {}
    if path is None or not path.is_file():
        return found
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            keys = tuple(k.strip() for k in (row.get("join_vars") or "").split("+") if k.strip())
            if not keys or not row.get("source_table") or not row.get("target_table"):
                continue
            found.setdefault(row["source_table"], []).append(
                SourceJoin(row["source_table"], keys, row["target_table"], keys, "dico"))
    return found


def default_join_graph(schema_dir: Path) -> Path | None:
    """The dico-snds join graph next to the schemas: ``../../derived/`` (the shared reference data's layout)
    or ``../derived/`` (the copy the package ships), when it is there."""
    here = schema_dir.resolve()
    for candidate in (here.parent.parent / "derived" / JOIN_GRAPH_NAME, here.parent / "derived" / JOIN_GRAPH_NAME):
        if candidate.is_file():
            return candidate
    return None


def read_schema_dir(root: Path, join_graph: Path | None = None) -> list[SourceProduct]:
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder of Table Schemas")
    folders = sorted({p.parent for p in root.rglob("*.json")})
    if not folders:
        raise BadInput(f"{root}: no Table Schema (*.json) in this folder or below")
    dico = _dico_joins(join_graph)
    known = known_products()
    products: list[SourceProduct] = []
    seen: dict[str, str] = {}
    for folder in folders:
        code = folder.name if folder != root else root.name
        pid = slug(code)
        if pid in seen:
            raise BadInput(f"{folder}: product id {pid} is also the id of {seen[pid]}; rename one folder")
        seen[pid] = str(folder)
        tables, joins = [], []
        for path in sorted(folder.glob("*.json")):
            table, fks = read_table(path)
            tables.append(table)
            joins.extend(fks)
        names = {t.name for t in tables}
        for name in sorted(names):
            have = {(j.fields, j.ref_table) for j in joins if j.table == name}
            joins.extend(j for j in dico.get(name, []) if (j.fields, j.ref_table) not in have)
        products.append(SourceProduct(pid, code, str(folder.relative_to(root)), dict(known.get(code, {})),
                                      tuple(tables), tuple(joins)))
    return products


def nomenclature_values(name: str, limit: int = 60) -> tuple[list[tuple[str, str]], int]:
    """The first ``limit`` (code, label) pairs of a shipped nomenclature, and its number of codes.

    Only what the package ships (schema-snds, MPL-2.0) is shown: an unshipped nomenclature has no values."""
    from guichet.schema.model import NomenclatureRef

    ref_name, _, column = name.partition(":")
    nom = resolve(NomenclatureRef(ref_name, column or None))
    if nom is None:
        return [], 0
    desc = json.loads(nom.path.with_suffix(".json").read_text(encoding="utf-8"))
    labels = [f["name"] for f in desc.get("fields", []) if f.get("role") == "label"]
    values: list[tuple[str, str]] = []
    total = 0
    with nom.path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            total += 1
            if len(values) < limit:
                values.append((row.get(nom.code_column, ""), row.get(labels[0], "") if labels else ""))
    return values, total
