"""Nomenclatures (code lists) shipped with the package, from schema-snds (MPL-2.0, see
``nomenclatures/LICENSE-MPL-2.0.txt``; contents from CNAM/ATIH reference tables).

Only what is shipped is ever used: a field whose nomenclature is not here is checked for type and length
only, and its membership check is reported *not applicable: nomenclature unavailable*. No code list is
ever invented. Each nomenclature's version is the SHA-256 of its file, recorded in every deposit's lineage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from guichet.schema.model import NomenclatureRef

FOLDER = Path(__file__).parent / "nomenclatures"
SOURCE = "schema-snds@fe17ef8348aeb74f38c29016f49e65f82a6168b6"
NOT_AVAILABLE = "not applicable: nomenclature unavailable"


@dataclass(frozen=True)
class Nomenclature:
    name: str
    path: Path
    code_column: str
    code_type: str  # the code column's Table Schema type
    version: str  # sha256 of the CSV file, first 16 hex digits
    source: str = SOURCE


def shipped() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.csv"))


@cache
def _describe(name: str) -> tuple[dict[str, object], str] | None:
    csv, desc = FOLDER / f"{name}.csv", FOLDER / f"{name}.json"
    if not csv.is_file() or not desc.is_file():
        return None
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()[:16]
    return json.loads(desc.read_text(encoding="utf-8")), digest


def resolve(ref: NomenclatureRef) -> Nomenclature | None:
    """The shipped nomenclature a field refers to, or None when it is not shipped (never invented)."""
    if not ref.name.replace("_", "").isalnum():
        return None
    described = _describe(ref.name)
    if described is None:
        return None
    desc, version = described
    raw_fields = desc.get("fields", []) if isinstance(desc, dict) else []
    fields = [f for f in raw_fields if isinstance(f, dict)] if isinstance(raw_fields, list) else []
    by_name = {str(f.get("name")): f for f in fields}
    column = ref.column
    if column is None or column not in by_name:
        coded = [f for f in fields if f.get("role") == "code"]
        pk = desc.get("primaryKey") or []
        if column is not None and column not in by_name:
            return None  # the schema names a column this nomenclature does not have
        if coded:
            column = str(coded[0]["name"])
        elif pk:
            column = str(pk[0] if isinstance(pk, list) else pk)
        elif fields:
            column = str(fields[0]["name"])
        else:
            return None
    return Nomenclature(ref.name, FOLDER / f"{ref.name}.csv", column, str(by_name[column].get("type", "string")),
                        version)
