"""A statistics request's specification: a small JSON document validated against the JSON Schema shipped
beside this module (``schemas/statistics-request.schema.json``), then for meaning (the criteria with the
criteria language's own validator, every dimension, variable and event against the catalogue's dictionary
and the lake's published columns). Every problem carries the JSON pointer of the bad value, as the criteria
validator's do (``/statistics/1/by/0``, ``/criteria/all/0/codes/0``).

The specification also says what the answer needs and nothing more: ``needs(spec)`` lists the tables and
columns the minimal extract holds (``document(...)`` writes them as the request-keyed plan the workspace
build reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported where a document is checked: its import costs ~1.7 s of CPU
    import jsonschema  # when rfc3987-syntax is installed (the notebook extra), for every process that loads this

from guichet.access.criteria import EVENT_TABLES, CriteriaError, held_columns, parse_date, schema_errors
from guichet.access.criteria import validate as validate_criteria
from guichet.errors import BadInput
from guichet.hub import Hub

SCHEMA_PATH = Path(__file__).parent / "schemas" / "statistics-request.schema.json"

# What a dimension, a per-person variable and an event read: (table, column); column None: the table's rows.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "sex": ("IR_BEN_R", "BEN_SEX_COD"),
    "age_band": ("IR_BEN_R", "BEN_NAI_ANN"),
    "region": ("IR_BEN_R", "BEN_RES_DPT"),
    "departement": ("IR_BEN_R", "BEN_RES_DPT"),
    "year": ("ER_PRS_F", "EXE_SOI_DTD"),
}
VARIABLES: dict[str, tuple[str, str | None]] = {
    "age": ("IR_BEN_R", "BEN_NAI_ANN"),
    "claims": ("ER_PRS_F", None),
    "amount_paid": ("ER_PRS_F", "PRS_PAI_MNT"),
    "stays": ("T_MCOaaC", None),
    "female": ("IR_BEN_R", "BEN_SEX_COD"),
}
EVENTS: dict[str, tuple[str, str]] = {
    "claim": ("ER_PRS_F", "EXE_SOI_DTD"),
    "hospital_stay": ("T_MCOaaC", "ENT_DAT"),
    "long_term_illness": ("IR_IMB_R", "IMB_ALD_DTD"),
    "death": ("KI_CCI_R", "BEN_DCD_DTE"),
}
BASE = "IR_BEN_R"  # every answer's population: the persons of the beneficiaries' referential in the extract


@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def _schema_errors(spec: Any) -> list[CriteriaError]:
    return schema_errors(_validator(), spec, _message)


def _message(err: jsonschema.ValidationError) -> str:
    """The schema's complaint in words that do not repeat the value (it may be long, or hold an identifier)."""
    v = err.validator
    if v == "required":
        missing = [m for m in err.validator_value if isinstance(err.instance, dict) and m not in err.instance]
        return f"required: {', '.join(missing)}"
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {}))) if isinstance(err.instance, dict) else []
        return f"unknown key(s): {', '.join(extra)[:200]}"
    if v == "enum":
        return "one of " + ", ".join(str(x) for x in err.validator_value)
    if v == "type":
        return f"must be of type {err.validator_value}"
    if v in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
        return f"{v} {err.validator_value}"
    if v == "pattern":
        return "not of the expected form"
    if v == "uniqueItems":
        return "items must be distinct"
    if v == "format":
        return f"not a {err.validator_value}"
    return v


def _meaning_errors(spec: dict[str, Any]) -> list[CriteriaError]:
    errors: list[CriteriaError] = []
    if "reference_date" in spec:
        parse_date(spec["reference_date"], "/reference_date", errors)
    names: set[str] = set()
    for i, st in enumerate(spec["statistics"]):
        where = f"/statistics/{i}"
        if st["name"] in names:
            errors.append(CriteriaError(f"{where}/name", "two statistics of the same name"))
        names.add(st["name"])
        kind = st["kind"]
        allowed = {"count": {"by"}, "rate": {"by", "event"}, "mean": {"by", "variable"},
                   "quantiles": {"by", "variable"}, "survival": {"by", "event", "times", "follow_up_end"},
                   "regression": {"outcome", "covariates"}}[kind]
        for key in sorted(set(st) - allowed - {"name", "kind"}):
            errors.append(CriteriaError(f"{where}/{key}", f"not used by a {kind} statistic"))
        if kind == "survival" and "follow_up_end" in st:
            parse_date(st["follow_up_end"], f"{where}/follow_up_end", errors)
        if kind == "regression" and st.get("outcome") in st.get("covariates", []):
            errors.append(CriteriaError(f"{where}/covariates", "the outcome cannot be a covariate"))
    return errors


def _products(hub: Hub) -> dict[str, set[str]]:
    """Each catalogue product's tables."""
    from sqlalchemy import select

    from guichet.catalogue.tables import CatalogueTable

    out: dict[str, set[str]] = {}
    with hub.store.read() as s:
        for product, table in s.execute(select(CatalogueTable.product_id, CatalogueTable.name)):
            out.setdefault(str(product), set()).add(str(table))
    return out


def uses(spec: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(JSON pointer, table, column or None) of everything a valid specification's statistics read."""
    out: list[tuple[str, str, str | None]] = [("/statistics", BASE, None)]
    for i, st in enumerate(spec["statistics"]):
        where = f"/statistics/{i}"
        for j, d in enumerate(st.get("by", [])):
            out.append((f"{where}/by/{j}", *DIMENSIONS[d]))
        if "variable" in st:
            out.append((f"{where}/variable", *VARIABLES[st["variable"]]))
        if "event" in st:
            out.append((f"{where}/event", *EVENTS[st["event"]]))
        if "outcome" in st:
            out.append((f"{where}/outcome", *VARIABLES[st["outcome"]]))
        for j, c in enumerate(st.get("covariates", [])):
            out.append((f"{where}/covariates/{j}", *VARIABLES[c]))
        if st["kind"] == "survival":  # the time origin: the first claim or stay (either suffices)
            out.append((f"{where}/event", "ER_PRS_F", "EXE_SOI_DTD"))
    return out


def _lake_errors(hub: Hub, spec: dict[str, Any]) -> list[CriteriaError]:
    from guichet.catalogue.dictionary import table_variables

    used = uses(spec)
    tables = {t for _, t, _ in used}
    dictionary = table_variables(hub, tables)
    held = held_columns(hub)
    products = _products(hub)
    errors: list[CriteriaError] = []
    for i, p in enumerate(spec["products"]):
        if p not in products:
            errors.append(CriteriaError(f"/products/{i}", f"{p} is not a product of the catalogue"))
    listed = set().union(*(products.get(p, set()) for p in spec["products"]))
    seen: set[tuple[str, str, str | None]] = set()
    for path, table, column in used:
        if (path, table, column) in seen:
            continue
        seen.add((path, table, column))
        problem = None
        if table not in dictionary:
            problem = f"{table} is not in the catalogue's dictionary"
        elif column is not None and column not in dictionary[table]:
            problem = f"{table}.{column} is not in the catalogue's dictionary"
        elif table not in held:
            problem = f"{table} has no published version in the lake"
        elif column is not None and column not in held[table]:
            problem = f"{table}.{column} is described in the dictionary but the lake's published {table} does not hold it"
        elif table not in listed:
            problem = f"{table} is not a table of the products requested ({', '.join(spec['products'])})"
        if problem:
            errors.append(CriteriaError(path, problem))
    return errors


def validate(hub: Hub | None, spec: Any) -> list[CriteriaError]:
    """Every problem of ``spec``, each with the JSON pointer of the bad value; [] when it is valid. Without a
    hub only the schema and the meaning are checked (not the dictionary and the lake)."""
    errors = _schema_errors(spec)
    if errors:
        return errors
    errors = _meaning_errors(spec)
    if "criteria" in spec:
        errors += [CriteriaError("/criteria" + e.path, e.message) for e in validate_criteria(hub, spec["criteria"])]
    if errors or hub is None:
        return errors
    return _lake_errors(hub, spec)


def require_valid(hub: Hub | None, spec: Any) -> None:
    errors = validate(hub, spec)
    if errors:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise BadInput(f"statistics request: {shown}{more}")


def load_file(path: Path) -> dict[str, Any]:
    """A specification file, read as JSON (one-line errors)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{Path(path).name}: no such file") from None
    except (UnicodeDecodeError, ValueError):
        raise BadInput(f"{Path(path).name}: not a JSON document") from None
    if not isinstance(data, dict):
        raise BadInput(f"{Path(path).name}: a JSON object")
    return data


@dataclass(frozen=True)
class Needs:
    """What the minimal extract holds: per table, the columns (besides the person and record keys)."""

    tables: dict[str, list[str]]
    granted: list[str]  # TABLE.COLUMN released exact in the internal extract (survival: exact event dates)


def needs(spec: dict[str, Any]) -> Needs:
    tables: dict[str, set[str]] = {BASE: set()}
    granted: set[str] = set()
    for _, table, column in uses(spec):
        tables.setdefault(table, set())
        if column is not None:
            tables[table].add(column)
    for st in spec["statistics"]:
        if st["kind"] == "survival":
            for table, column in (EVENTS[st["event"]], ("ER_PRS_F", "EXE_SOI_DTD")):
                granted.add(f"{table}.{column}")
    for table in list(tables):
        parent = EVENT_TABLES[table].parent if table in EVENT_TABLES else None
        if parent:
            tables.setdefault(parent, set())
    return Needs({t: sorted(c) for t, c in sorted(tables.items())}, sorted(granted))


def document(request_id: str, spec: dict[str, Any], issued_on: date) -> dict[str, Any]:
    """The request-keyed plan the workspace build reads (the shape of a permit's document, never signed nor
    shown to anyone): the tables and columns the statistics need, the criteria's population, pseudonymised."""
    n = needs(spec)
    doc: dict[str, Any] = {
        "id": request_id, "revision": 1, "issued_at": issued_on.isoformat(), "pseudonymisation": "pseudonymised",
        "title": spec["title"],
        "data": {"tables": sorted(n.tables), "granted": n.granted,
                 "variables": [{"table": t, "variable": c} for t, cols in n.tables.items() for c in cols]},
        "population": {"criteria": spec.get("criteria") or None, "period": {}},
        "people": [],
    }
    return doc
