"""The catalogue's plain data: products, tables, variables, join keys; what makes an entry complete.

Everything here is pure (no I/O). Services return these dataclasses, never ORM objects.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

LANGS = ("fr", "en")
Text = dict[str, str]  # {"fr": ..., "en": ...}: a language may be missing when the source lacks it

# Values that say "fill me in" rather than describe anything: refused in every saved field and in the export.
_PLACEHOLDER = re.compile(
    r"lorem\s+ipsum|\btodo\b|\btbd\b|\bplaceholder\b|\bxxx+\b|\bfixme\b|"
    r"example\.(?:org|com|net)\b|\bchangeme\b|\bà\s+compléter\b|\ba\s+completer\b",
    re.IGNORECASE,
)


def placeholder_in(value: str) -> str | None:
    """The placeholder a value contains (``TODO``, ``lorem ipsum``, an example.org address...), or None."""
    found = _PLACEHOLDER.search(value)
    return found.group(0) if found else None


def placeholders(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The fields (dotted names) of a nested mapping whose text holds a placeholder."""
    bad: list[str] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            bad.extend(placeholders(value, name + "."))
        elif isinstance(value, list | tuple):
            bad.extend(name for v in value if isinstance(v, str) and placeholder_in(v))
        elif isinstance(value, str) and placeholder_in(value):
            bad.append(name)
    return bad


def fold(text: str) -> str:
    """Lower case without diacritics: what search and slugs compare ('Décès' -> 'deces')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def slug(code: str) -> str:
    """A product's id from its source folder's name ('PMSI MCO' -> 'pmsi-mco', 'Causes de décès' -> 'causes-de-deces')."""
    s = re.sub(r"[^a-z0-9]+", "-", fold(code)).strip("-")
    return s or "product"


def pick(text: Text | None, locale: str) -> str:
    """The text in ``locale``, else in the other language, else empty."""
    if not text:
        return ""
    return text.get(locale) or next((text[k] for k in LANGS if text.get(k)), "")


@dataclass(frozen=True)
class VariableInfo:
    table: str
    name: str
    position: int
    type: str
    format: str | None
    length: str | None
    required: bool
    description: Text
    nomenclature: str | None
    nomenclature_shipped: bool
    constraints: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JoinKeyInfo:
    table: str
    fields: tuple[str, ...]
    ref_table: str
    ref_fields: tuple[str, ...]
    origin: str  # schema | dico
    ref_product: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "fields": list(self.fields), "ref_table": self.ref_table,
                "ref_fields": list(self.ref_fields), "origin": self.origin, "ref_product": self.ref_product}


@dataclass(frozen=True)
class TableInfo:
    name: str
    title: Text
    description: Text
    primary_key: tuple[str, ...]
    schema_sha256: str
    revision: int
    variables: tuple[VariableInfo, ...] = ()

    def to_dict(self, with_variables: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "title": self.title, "description": self.description,
                             "primary_key": list(self.primary_key), "schema_sha256": self.schema_sha256,
                             "revision": self.revision, "variables": len(self.variables)}
        if with_variables:
            d["variables"] = [v.to_dict() for v in self.variables]
        return d


@dataclass(frozen=True)
class SchemaRevisionInfo:
    table: str
    revision: int
    sha256: str
    changes: tuple[str, ...]
    breaking: bool
    loaded_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "revision": self.revision, "sha256": self.sha256,
                "changes": list(self.changes), "breaking": self.breaking, "loaded_at": self.loaded_at.isoformat()}


@dataclass(frozen=True)
class ProductSummary:
    id: str
    code: str
    title: Text
    description: Text
    producer: str | None
    producer_label: str | None
    themes: tuple[str, ...]
    status: str
    tables: int
    variables: int
    updated_at: datetime
    reviewed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["themes"] = list(self.themes)
        d["updated_at"] = self.updated_at.isoformat()
        d["reviewed_at"] = self.reviewed_at.isoformat() if self.reviewed_at else None
        return d


@dataclass(frozen=True)
class ProductInfo:
    id: str
    code: str
    title: Text
    description: Text
    producer: str | None
    producer_label: str | None
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    coverage: dict[str, Any]
    frequency: str | None
    properties: dict[str, Any]
    status: str
    problems: tuple[str, ...]
    source: str
    created_at: datetime
    updated_at: datetime
    reviewed_at: datetime | None
    tables: tuple[TableInfo, ...] = ()
    join_keys: tuple[JoinKeyInfo, ...] = ()
    history: tuple[SchemaRevisionInfo, ...] = ()

    @property
    def variable_count(self) -> int:
        return sum(len(t.variables) for t in self.tables)

    def to_dict(self, with_variables: bool = True) -> dict[str, Any]:
        return {
            "id": self.id, "code": self.code, "title": self.title, "description": self.description,
            "producer": self.producer, "producer_label": self.producer_label, "themes": list(self.themes),
            "keywords": list(self.keywords), "coverage": self.coverage, "frequency": self.frequency,
            "properties": self.properties, "status": self.status, "problems": list(self.problems),
            "source": self.source, "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "tables": [t.to_dict(with_variables) for t in self.tables],
            "join_keys": [j.to_dict() for j in self.join_keys],
            "schema_history": [h.to_dict() for h in self.history],
        }


# --- completeness -------------------------------------------------------------------------------------

# Product-level fields an entry needs before it leaves the draft state (HealthDCAT-AP, sensitive data).
PRODUCT_FIELDS = ("title", "description", "producer", "themes", "keywords", "health_categories", "territory")
# Hub-wide properties (``[properties]`` of guichet.toml) every exported entry needs.
HUB_PROPERTIES = (
    "base_url", "publisher_name", "publisher_homepage", "publisher_email", "publisher_type", "publisher_note",
    "contact_name", "contact_email", "contact_url", "hdab_name", "hdab_homepage", "hdab_email",
    "access_rights", "legal_basis", "legal_basis_source", "applicable_legislation", "purpose",
)
ACCESS_RIGHTS = ("NON_PUBLIC", "RESTRICTED", "PUBLIC")
FREQUENCIES = ("ANNUAL", "ANNUAL_2", "ANNUAL_3", "QUARTERLY", "MONTHLY", "WEEKLY", "DAILY", "CONT", "IRREG")


def missing_hub_properties(props: dict[str, Any]) -> list[str]:
    missing = [k for k in HUB_PROPERTIES if not str(props.get(k) or "").strip()]
    rights = props.get("access_rights")
    if rights and rights not in ACCESS_RIGHTS:
        missing.append(f"access_rights (one of {', '.join(ACCESS_RIGHTS)})")
    return missing


def product_problems(title: Text, description: Text, producer: str | None, themes: list[str],
                     keywords: list[str], coverage: dict[str, Any], properties: dict[str, Any],
                     hub_props: dict[str, Any]) -> list[str]:
    """Why an entry is still a draft (empty when it is complete)."""
    problems: list[str] = []
    if not pick(title, "en"):
        problems.append("missing: title")
    if not pick(description, "en"):
        problems.append("missing: description")
    if not producer:
        problems.append("missing: producer")
    if not themes:
        problems.append("missing: themes")
    if not keywords:
        problems.append("missing: keywords")
    if not properties.get("health_categories"):
        problems.append("missing: health_categories")
    if not coverage.get("territory"):
        problems.append("missing: coverage.territory")
    problems.extend(f"missing hub property: {k}" for k in missing_hub_properties(hub_props))
    fields = {"title": title, "description": description, "keywords": keywords, "coverage": coverage,
              "properties": properties}
    problems.extend(f"placeholder in {name}" for name in placeholders(fields))
    problems.extend(f"placeholder in hub property {name}" for name in placeholders(hub_props))
    return problems
