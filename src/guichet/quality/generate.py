"""Checks generated from a Table Schema (what the producer declared), DQD-style.

| Table Schema              | check          | Kahn category / subcategory   | DQD check            |
|---------------------------|----------------|-------------------------------|----------------------|
| ``required``              | not_null       | completeness                  | isRequired           |
| type (on a text column)   | type           | conformance / value           | cdmDatatype          |
| ``enum``                  | value_in       | conformance / value           | fkDomain             |
| ``nomenclature`` (shipped)| nomenclature   | conformance / value           | isStandardValidConcept|
| ``pattern``               | pattern        | conformance / value           | —                    |
| ``length``, ``maxLength`` | max_length     | conformance / value           | —                    |
| ``minLength``             | min_length     | conformance / value           | —                    |
| ``minimum``/``maximum``   | range          | plausibility / atemporal      | plausibleValueLow/High|
| type ``year``             | not_future     | plausibility / temporal       | —                    |
| ``primaryKey``/``unique`` | unique         | conformance / relational      | isPrimaryKey         |
| ``foreignKeys`` (tables)  | foreign_key    | conformance / relational      | isForeignKey         |

A nomenclature that is not shipped is never invented: its check is reported *not applicable*.
"""

from __future__ import annotations

import datetime as dt

from guichet.quality.model import DEFAULT_BLOCKING_THRESHOLD, Check
from guichet.schema import FieldSpec, TableSchema, resolve

SQL_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP", "year": "INT",
             "boolean": "BOOLEAN"}
NOT_AVAILABLE = "not applicable: nomenclature unavailable"


def _blocking(check_id: str, table: str, kind: str, category: str, subcategory: str, columns: tuple[str, ...],
              description: str, **params: object) -> Check:
    severity = "warning" if category == "completeness" else "blocking"
    return Check(check_id, table, kind, category, subcategory, severity, DEFAULT_BLOCKING_THRESHOLD, columns,
                 dict(params), description, "schema")


def field_checks(table: str, f: FieldSpec, *, column_type: str | None, as_of: dt.date) -> list[Check]:
    out: list[Check] = []
    cid = f"{table}.{{}}.{f.name}"
    cols = (f.name,)
    if f.required:
        out.append(_blocking(cid.format("not_null"), table, "not_null", "completeness", "", cols,
                             f"{f.name} is required: no empty cell"))
    text_column = column_type is not None and column_type.upper() in ("VARCHAR", "TEXT", "STRING")
    sql_type = SQL_TYPES.get(f.type)
    if text_column and sql_type and not f.strptime_format and f.type != "boolean":
        out.append(_blocking(cid.format("type"), table, "type", "conformance", "value", cols,
                             f"{f.name} holds a {f.type}", sql_type=sql_type))
    if f.enum:
        out.append(_blocking(cid.format("value_in"), table, "value_in", "conformance", "value", cols,
                             f"{f.name} is one of the {len(f.enum)} declared values", values=list(f.enum)))
    if f.nomenclature is not None:
        nom = resolve(f.nomenclature)
        if nom is None:
            out.append(Check(cid.format("nomenclature"), table, "nomenclature", "conformance", "value", "info", 0.0,
                             cols, {"unavailable": True, "nomenclature": f.nomenclature.name},
                             f"{f.name} codes belong to {f.nomenclature.name} ({NOT_AVAILABLE})", "schema", False))
        else:
            numeric = f.type in ("integer", "number")
            out.append(_blocking(cid.format("nomenclature"), table, "nomenclature", "conformance", "value", cols,
                                 f"{f.name} codes belong to nomenclature {nom.name} (version {nom.version})",
                                 nomenclature=nom.name, numeric=numeric))
    if f.pattern:
        out.append(_blocking(cid.format("pattern"), table, "pattern", "conformance", "value", cols,
                             f"{f.name} matches the declared pattern", pattern=f.pattern))
    size = f.max_length if f.max_length is not None else (f.length.size if f.length and f.type == "string" else None)
    if size is not None and f.type == "string":
        out.append(_blocking(cid.format("max_length"), table, "max_length", "conformance", "value", cols,
                             f"{f.name} has at most {size} characters", length=size))
    if f.min_length is not None and f.type == "string":
        out.append(_blocking(cid.format("min_length"), table, "min_length", "conformance", "value", cols,
                             f"{f.name} has at least {f.min_length} characters", length=f.min_length))
    if f.minimum is not None or f.maximum is not None:
        kind = f.type if f.type in ("date", "datetime", "year") else "number"
        out.append(_blocking(cid.format("range"), table, "range", "plausibility", "atemporal", cols,
                             f"{f.name} lies in [{f.minimum}, {f.maximum}]", min=f.minimum, max=f.maximum,
                             value_kind=kind))
    if f.type == "year":
        out.append(_blocking(cid.format("not_future"), table, "not_future", "plausibility", "temporal", cols,
                             f"{f.name} is not after {as_of.year}", value_kind="year", as_of=as_of.isoformat()))
    return out


def schema_checks(table: str, schema: TableSchema, column_types: dict[str, str], *, as_of: dt.date,
                  datasets: set[str] | None = None) -> list[Check]:
    """Every check a Table Schema implies, for the columns the table really has."""
    out: list[Check] = []
    for f in schema.fields:
        if f.name in column_types:
            out.extend(field_checks(table, f, column_type=column_types.get(f.name), as_of=as_of))
    keys: list[tuple[str, ...]] = []
    if schema.primary_key:
        keys.append(tuple(schema.primary_key))
    keys += [(f.name,) for f in schema.fields if f.unique and (f.name,) not in keys]
    for k in keys:
        if all(c in column_types for c in k):
            out.append(_blocking(f"{table}.unique.{'+'.join(k)}", table, "unique", "conformance", "relational", k,
                                 f"no two rows share {' + '.join(k)}"))
    for fk in schema.foreign_keys:
        if datasets is not None and fk.resource in datasets and all(c in column_types for c in fk.fields):
            out.append(_blocking(f"{table}.foreign_key.{'+'.join(fk.fields)}", table, "foreign_key", "conformance",
                                 "relational", fk.fields, f"{' + '.join(fk.fields)} exists in {fk.resource}",
                                 ref={"table": fk.resource, "columns": list(fk.ref_fields)}))
    return out
