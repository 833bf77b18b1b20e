"""The delivery manifest (``docs/manifest.md``; JSON Schema ``manifest.schema.json``). Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import tomli_w

from guichet.synth.schemas import TABLES

FORMAT = "guichet-delivery/1"
DOMAIN = "snds"


@dataclass(frozen=True)
class FileEntry:
    table: str  # SNDS table of the schema: T_MCOaaB
    name: str  # the table as delivered: T_MCO23B
    file: str  # relative to the manifest
    rows: int
    sha256: str


def table_entry(e: FileEntry) -> dict[str, Any]:
    spec = TABLES[e.table]
    idents: list[dict[str, Any]] = []
    for i in spec.identifiers:
        d: dict[str, Any] = {"column": i.column, "kind": i.kind}
        if i.kind != "quasi":
            d["state"] = "clear"
            d["inputs"] = list(i.inputs)
        idents.append(d)
    return {
        "name": e.name, "dataset": e.table, "file": e.file, "schema": f"schemas/clear/{e.table}.json",
        "pseudonymised_schema": f"schemas/{e.table}.json", "producer": spec.producer, "delimiter": ";",
        "encoding": "utf-8", "rows": e.rows, "sha256": e.sha256, "identifiers": idents,
    }


def build(entries: list[FileEntry], delivery: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "domain": DOMAIN, "delivery": delivery, "tables": [table_entry(e) for e in entries]}


def dumps(manifest: dict[str, Any]) -> str:
    return tomli_w.dumps(manifest)


@lru_cache(maxsize=1)
def json_schema() -> dict[str, Any]:
    text = resources.files("guichet.synth").joinpath("manifest.schema.json").read_text("utf-8")
    return json.loads(text)
