"""Producer-side Table Schemas derived from schema-snds (MPL-2.0; ``schemas/source/LICENSE``).

Two per table: the *clear* schema of the file as the producer holds it (pseudonym columns replaced by
their inputs) and the *pseudonymised* schema (schema-snds columns, pseudonyms as 17-character strings).
``required`` only on keys, identifiers, sex, birth year and event start dates; no ``unique`` on
``BEN_NIR_PSA`` alone (its key is ``BEN_NIR_PSA`` + ``BEN_RNG_GEM``); no foreign keys (relations are listed
in ``docs/schemas.md``). ``python -m guichet.synth.schemas`` rewrites the shipped core schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

PSA_INPUTS = ("BEN_NIR_OUV", "BEN_NAI_DTE", "BEN_SEX_COD")


@dataclass(frozen=True)
class Identifier:
    column: str
    kind: str  # psa | ano | quasi
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    name: str
    producer: str
    core: tuple[str, ...]  # schema-snds columns written in --columns core (pseudonyms included)
    identifiers: tuple[Identifier, ...]
    required: tuple[str, ...]  # beyond the primary key and the identifier inputs
    excluded: tuple[str, ...] = ()  # schema-snds columns never written (e.g. KI_* pseudonyms)


_PRS_KEY = ("DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP", "FLX_TRT_DTD",
            "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")
_PSA = Identifier("BEN_NIR_PSA", "psa", PSA_INPUTS)
_RET = ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET", "COH_NAI_RET",
        "COH_SEX_RET")
_KI_PSEUDONYMS = ("BEN_NIR_ANO", "BEN_IDT_ANO", "BEN_IDT_TOP", "DCD_IDT_TOP")


def _quasi(*cols: str) -> tuple[Identifier, ...]:
    return tuple(Identifier(c, "quasi") for c in cols)


TABLES: dict[str, TableSpec] = {t.name: t for t in (
    TableSpec("IR_BEN_R", "cnam",
              ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_NIR_ANO", "BEN_CDI_NIR", "BEN_NAI_ANN", "BEN_NAI_MOI",
               "BEN_SEX_COD", "BEN_DCD_DTE", "BEN_RES_DPT", "BEN_RES_COM", "BEN_DTE_INS", "BEN_DTE_MAJ"),
              (_PSA, Identifier("BEN_NIR_ANO", "ano", ("BEN_NIR",)),
               *_quasi("BEN_SEX_COD", "BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_RES_DPT", "BEN_RES_COM", "BEN_DCD_DTE")),
              ("BEN_SEX_COD", "BEN_NAI_ANN")),
    TableSpec("ER_PRS_F", "cnam",
              ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_CDI_NIR", "BEN_NAI_ANN", "BEN_RES_DPT", "BEN_SEX_COD",
               "EXE_SOI_DTD", "EXE_SOI_DTF", "PRS_NAT_REF", "PRS_ACT_QTE", "PRS_PAI_MNT", "BSE_REM_MNT",
               "PSE_SPE_COD", *_PRS_KEY),
              (_PSA, *_quasi("BEN_SEX_COD", "BEN_NAI_ANN", "BEN_RES_DPT")),
              ("BEN_SEX_COD", "BEN_NAI_ANN", "EXE_SOI_DTD")),
    TableSpec("ER_PHA_F", "cnam", (*_PRS_KEY, "PHA_PRS_C13", "PHA_PRS_IDE", "PHA_ACT_QSN", "PHA_ACT_PRU"), (),
              _PRS_KEY),
    TableSpec("IR_IMB_R", "cnam",
              ("BEN_NIR_PSA", "BEN_RNG_GEM", "IMB_ALD_DTD", "IMB_ALD_DTF", "IMB_ALD_NUM", "IMB_ETM_NAT",
               "MED_MTF_COD"), (_PSA,), ("IMB_ALD_DTD",)),
    TableSpec("T_MCOaaB", "atih",
              ("ETA_NUM", "RSA_NUM", "AGE_ANN", "COD_SEX", "DGN_PAL", "DGN_REL", "ENT_MOD", "ENT_PRV",
               "SEJ_NBJ", "SOR_ANN", "SOR_MOI", "SOR_MOD", "BDI_DEP"),
              _quasi("AGE_ANN", "COD_SEX", "BDI_DEP"), ("COD_SEX",)),
    TableSpec("T_MCOaaC", "atih",
              ("ETA_NUM", "RSA_NUM", "NIR_ANO_17", "ENT_DAT", "SOR_DAT", *_RET, "RNG_NAI", "SEJ_NUM",
               "SOR_ANN", "SOR_MOI"),
              (Identifier("NIR_ANO_17", "psa", PSA_INPUTS),), ("ENT_DAT",)),
    TableSpec("T_MCOaaD", "atih", ("ETA_NUM", "RSA_NUM", "ASS_DGN"), (), ("ETA_NUM", "RSA_NUM")),
    TableSpec("KI_CCI_R", "cepidc",
              ("DCD_IDT_ENC", "FLX_PER_ANN", "TRT_STA_COD", "TYP_CER_COD", "DCD_DPT_COD", "DCD_COM_COD",
               "BEN_RES_DPT", "BEN_RES_COM", "BEN_DCD_DTE", "DCD_LIE_COD", "BEN_NAI_ANN", "BEN_NAI_MOI",
               "BEN_SEX_COD", "DCD_CIM_COD"),
              _quasi("BEN_SEX_COD", "BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_RES_DPT", "BEN_RES_COM", "BEN_DCD_DTE",
                     "DCD_DPT_COD", "DCD_COM_COD", "DCD_LIE_COD"),
              ("DCD_IDT_ENC", "BEN_SEX_COD", "BEN_NAI_ANN", "BEN_DCD_DTE"), _KI_PSEUDONYMS),
    TableSpec("KI_ECD_R", "cepidc",
              ("DCD_IDT_ENC", "FLX_PER_ANN", "CER_LIG_NUM", "ECD_CAU_RNG", "ECD_CIM_COD", "BEN_DCD_DTE"),
              _quasi("BEN_DCD_DTE"), ("DCD_IDT_ENC", "CER_LIG_NUM", "BEN_DCD_DTE"), _KI_PSEUDONYMS),
)}

_INPUT_FIELDS: dict[str, dict[str, Any]] = {
    "BEN_NIR_OUV": {"name": "BEN_NIR_OUV", "description": "NIR de l'ouvreur de droits (en clair, 13 + clé)",
                    "type": "string", "format": "default", "nomenclature": "-", "length": "15",
                    "constraints": {"required": True, "minLength": 15, "maxLength": 15,
                                    "pattern": "[12][0-9]{4}([0-9]{2}|2A|2B)[0-9]{8}"}},
    "BEN_NAI_DTE": {"name": "BEN_NAI_DTE", "description": "Date de naissance du bénéficiaire (en clair)",
                    "type": "date", "format": "default", "nomenclature": "-", "length": "10",
                    "constraints": {"required": True}},
    "BEN_SEX_COD": {"name": "BEN_SEX_COD", "description": "Code sexe du bénéficiaire", "type": "integer",
                    "format": "default", "nomenclature": "IR_SEX_V:SEX_COD", "length": "1",
                    "constraints": {"required": True}},
    "BEN_NIR": {"name": "BEN_NIR", "description": "NIR du bénéficiaire (en clair, 13 + clé; absent pour les "
                "NIR fictifs et certains mineurs)", "type": "string", "format": "default", "nomenclature": "-",
                "length": "15", "constraints": {"minLength": 15, "maxLength": 15,
                                                "pattern": "[12][0-9]{4}([0-9]{2}|2A|2B)[0-9]{8}"}},
}
_KEEP = ("name", "description", "type", "format", "nomenclature", "length")


@lru_cache(maxsize=16)
def source(table: str) -> dict[str, Any]:
    text = resources.files("guichet.synth").joinpath("schemas", "source", f"{table}.json").read_text("utf-8")
    return json.loads(text)


def _field(f: dict[str, Any], required: bool) -> dict[str, Any]:
    out = {k: f[k] for k in _KEEP if k in f}
    fmt, typ = out.get("format", "default"), out["type"]
    if typ == "date":
        out["length"] = {"default": "10", "%d%m%Y": "8", "%m": "2"}.get(fmt, out.get("length", ""))
    constraints: dict[str, Any] = {}
    if required:
        constraints["required"] = True
    if typ == "string" and str(out.get("length", "")).isdigit():
        constraints["maxLength"] = int(out["length"])
    if out["name"] in ("BEN_NIR_PSA", "BEN_NIR_ANO", "NIR_ANO_17"):
        constraints.update({"minLength": 17, "maxLength": 17})
    if constraints:
        out["constraints"] = constraints
    return out


def columns(table: str, full: bool) -> list[str]:
    """The schema-snds columns of the table that a delivery writes, in schema-snds order."""
    spec = TABLES[table]
    names = [f["name"] for f in source(table)["fields"]]
    keep = set(spec.core)
    return [n for n in names if n not in spec.excluded and (full or n in keep)]


def pseudonymised(table: str, full: bool = False) -> dict[str, Any]:
    spec, src = TABLES[table], source(table)
    by_name = {f["name"]: f for f in src["fields"]}
    pk = [c for c in src.get("primaryKey", []) if c]
    # The ano pseudonym is empty where the own NIR is unknown (~3 %): only psa pseudonyms are required.
    required = set(spec.required) | set(pk) | {i.column for i in spec.identifiers if i.kind == "psa"}
    cols = columns(table, full)
    schema: dict[str, Any] = {
        "name": table, "title": src.get("title", table), "produit": src.get("produit", ""),
        "description": f"{table} after level-1 pseudonymisation; derived from schema-snds (MPL-2.0).",
        "fields": [_field(by_name[c], c in required) for c in cols], "missingValues": [""],
    }
    if pk and all(c in cols for c in pk):
        schema["primaryKey"] = pk
    return schema


def clear(table: str, full: bool = False) -> dict[str, Any]:
    """The file as the producer holds it: each pseudonym replaced by its inputs, where it stood."""
    spec = TABLES[table]
    pseudo = pseudonymised(table, full)
    own = {f["name"] for f in pseudo["fields"]}
    fields: list[dict[str, Any]] = []
    for f in pseudo["fields"]:
        ident = next((i for i in spec.identifiers if i.column == f["name"] and i.kind != "quasi"), None)
        if ident is None:
            fields.append(f)
            continue
        fields.extend(dict(_INPUT_FIELDS[c]) for c in ident.inputs if c not in own)
    for f in fields:
        if f["name"] == "BEN_SEX_COD":
            f.setdefault("constraints", {})["required"] = True
    schema = {**pseudo, "fields": fields,
              "description": f"{table} as the producer holds it, before pseudonymisation (clear "
                             "identifiers); derived from schema-snds (MPL-2.0)."}
    names = [f["name"] for f in fields]
    if "primaryKey" in pseudo:
        key: list[str] = []
        for c in pseudo["primaryKey"]:
            ident = next((i for i in spec.identifiers if i.column == c and i.kind != "quasi"), None)
            key.extend(ident.inputs if ident else [c])
        schema["primaryKey"] = [c for c in key if c in names]
    return schema


def file_columns(table: str, full: bool) -> list[str]:
    return [f["name"] for f in clear(table, full)["fields"]]


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_shipped(root: Path) -> None:
    """Write the core schemas under ``root`` (``clear/X.json`` and ``X.json``)."""
    (root / "clear").mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        (root / "clear" / f"{table}.json").write_text(dumps(clear(table)), encoding="utf-8")
        (root / f"{table}.json").write_text(dumps(pseudonymised(table)), encoding="utf-8")


if __name__ == "__main__":
    write_shipped(Path(__file__).parent / "schemas")
