"""Frictionless Table Schemas as plain, immutable data (with the schema-snds extensions).

schema-snds adds two properties to a field: ``nomenclature`` (``"-"`` for none, ``"IR_SEX_V"`` or
``"IR_SEX_V:SEX_COD"`` naming the code column) and ``length`` (the source column's size: characters for
strings, digits for integers, ``"p,s"`` precision and scale for numbers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "time", "year", "yearmonth", "any")
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")


@dataclass(frozen=True)
class NomenclatureRef:
    name: str
    column: str | None = None  # the code column, when the schema names it

    @property
    def label(self) -> str:
        return f"{self.name}:{self.column}" if self.column else self.name


@dataclass(frozen=True)
class Length:
    """schema-snds ``length``: a maximum size. ``scale`` is set for numbers written ``"p,s"``."""

    size: int
    scale: int | None = None


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "string"
    format: str = "default"
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: Any = None
    maximum: Any = None
    min_length: int | None = None
    max_length: int | None = None
    length: Length | None = None
    nomenclature: NomenclatureRef | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE

    @property
    def strptime_format(self) -> str | None:
        """The C-locale ``strptime`` format of a date/datetime field, None for the ISO default."""
        if self.type in ("date", "datetime", "time") and self.format not in ("default", "any", "", None):
            return self.format.removeprefix("fmt:")
        return None

    @property
    def is_partial_date(self) -> bool:
        """A 'date' whose format lacks the year or the day (schema-snds' ``%m`` month fields)."""
        fmt = self.strptime_format
        return self.type == "date" and fmt is not None and not ("%Y" in fmt and "%d" in fmt and
                                                                 ("%m" in fmt or "%b" in fmt))


@dataclass(frozen=True)
class ForeignKey:
    fields: tuple[str, ...]
    resource: str
    ref_fields: tuple[str, ...]


@dataclass(frozen=True)
class TableSchema:
    name: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    delimiter: str | None = None
    encoding: str | None = None
    declared_version: str | None = None
    sha256: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def schema_digest(raw: dict[str, Any]) -> str:
    """The schema's identity: SHA-256 of its canonical JSON (key order and spacing do not matter)."""
    return hashlib.sha256(canonical_json(raw)).hexdigest()


def breaking_changes(old: TableSchema, new: TableSchema) -> list[str]:
    """What in ``new`` could make data valid under ``old`` invalid, or change its meaning.

    Adding an optional field or loosening a constraint is not breaking; removing or retyping a field,
    a new required field, a tighter constraint or a new key is.
    """
    problems: list[str] = []
    old_fields = {f.name: f for f in old.fields}
    new_fields = {f.name: f for f in new.fields}
    for name in old_fields.keys() - new_fields.keys():
        problems.append(f"field {name} removed")
    for name, nf in new_fields.items():
        of = old_fields.get(name)
        if of is None:
            if nf.required:
                problems.append(f"field {name} added as required")
            continue
        if (of.type, of.format) != (nf.type, nf.format):
            problems.append(f"field {name}: type {of.type}/{of.format} became {nf.type}/{nf.format}")
        if nf.required and not of.required:
            problems.append(f"field {name} became required")
        for attr in ("pattern", "enum", "minimum", "maximum", "min_length", "max_length", "length", "nomenclature"):
            if getattr(nf, attr) != getattr(of, attr) and getattr(nf, attr) is not None:
                problems.append(f"field {name}: constraint {attr} changed")
    if tuple(new.primary_key) != tuple(old.primary_key):
        problems.append("primary key changed")
    return problems
