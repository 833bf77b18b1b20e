"""Reading a Table Schema JSON file into a ``TableSchema``; every problem is one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guichet.errors import BadInput
from guichet.schema.model import (
    DEFAULT_FALSE,
    DEFAULT_TRUE,
    TYPES,
    FieldSpec,
    ForeignKey,
    Length,
    NomenclatureRef,
    TableSchema,
    schema_digest,
)

ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
             "iso-8859-1": "latin-1", "iso8859-1": "latin-1", "cp1252": "latin-1", "windows-1252": "latin-1"}


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _int(value: Any, where: str) -> int | None:
    if value in (None, "", "-"):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadInput(f"{where}: not an integer") from None


def _length(value: Any, ftype: str, where: str) -> Length | None:
    if value in (None, "", "-", "None"):
        return None
    text = str(value).strip()
    if "," in text:
        size, scale = text.split(",", 1)
        s = _int(size, where)
        return Length(s, _int(scale, where)) if s is not None else None
    s = _int(text, where)
    return Length(s) if s is not None else None


def _nomenclature(value: Any) -> NomenclatureRef | None:
    if not value or not isinstance(value, str) or value.strip() in ("-", ""):
        return None
    name, _, column = value.strip().partition(":")
    return NomenclatureRef(name.strip(), column.strip() or None)


def parse_field(raw: dict[str, Any], where: str) -> FieldSpec:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise BadInput(f"{where}: a field has no name")
    ftype = raw.get("type") or "string"
    if ftype not in TYPES:
        raise BadInput(f"{where}: field {name}: unknown type {ftype!r}")
    c = raw.get("constraints") or {}
    loc = f"{where}: field {name}"
    enum = c.get("enum")
    return FieldSpec(
        name=name,
        type=ftype,
        format=str(raw.get("format") or "default"),
        required=bool(c.get("required", False)),
        unique=bool(c.get("unique", False)),
        pattern=c.get("pattern"),
        enum=tuple(enum) if isinstance(enum, list) else None,
        minimum=c.get("minimum"),
        maximum=c.get("maximum"),
        min_length=_int(c.get("minLength"), loc + " minLength"),
        max_length=_int(c.get("maxLength"), loc + " maxLength"),
        length=_length(raw.get("length"), ftype, loc + " length"),
        nomenclature=_nomenclature(raw.get("nomenclature")),
        true_values=tuple(raw.get("trueValues") or DEFAULT_TRUE),
        false_values=tuple(raw.get("falseValues") or DEFAULT_FALSE),
    )


def parse_schema(raw: dict[str, Any], where: str = "schema") -> TableSchema:
    if not isinstance(raw, dict) or not isinstance(raw.get("fields"), list) or not raw["fields"]:
        raise BadInput(f"{where}: not a Table Schema (no 'fields' list)")
    fields = tuple(parse_field(f, where) for f in raw["fields"])
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"{where}: field {dupes[0]} is declared twice")
    pk = _as_tuple(raw.get("primaryKey"))
    for key in pk:
        if key not in names:
            raise BadInput(f"{where}: primaryKey names {key}, which is not a field")
    fks = []
    for i, fk in enumerate(raw.get("foreignKeys") or []):
        ref = fk.get("reference") or {}
        local, remote = _as_tuple(fk.get("fields")), _as_tuple(ref.get("fields"))
        if not local or len(local) != len(remote) or not ref.get("resource"):
            raise BadInput(f"{where}: foreignKeys[{i}] is incomplete")
        fks.append(ForeignKey(local, str(ref["resource"]), remote))
    dialect = raw.get("dialect") or {}
    encoding = raw.get("encoding") or dialect.get("encoding")
    if encoding is not None:
        if str(encoding).lower() not in ENCODINGS:
            raise BadInput(f"{where}: encoding {encoding!r} is not supported (utf-8 or latin-1)")
        encoding = ENCODINGS[str(encoding).lower()]
    missing = raw.get("missingValues")
    return TableSchema(
        name=str(raw.get("name") or Path(where).stem),
        fields=fields,
        primary_key=pk,
        foreign_keys=tuple(fks),
        missing_values=tuple(missing) if isinstance(missing, list) else ("",),
        delimiter=raw.get("delimiter") or dialect.get("delimiter"),
        encoding=encoding,
        declared_version=str(raw["version"]) if raw.get("version") is not None else None,
        sha256=schema_digest(raw),
        raw=raw,
    )


def load_schema(path: Path) -> TableSchema:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise BadInput(f"{path}: schema cannot be read") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: schema is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    return parse_schema(raw, str(path))
