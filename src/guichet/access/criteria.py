"""Criteria: a small JSON language for a population, validated, put in canonical form and compiled to SQL.

The grammar is in ``schemas/criteria.schema.json`` and ``docs/access.md`` (section "Criteria"). A criterion
is an object with one *kind* key: ``all`` / ``any`` (lists of criteria), ``not`` (one criterion), or a leaf —
``codes`` (with a ``system``: CIP13, ATC, ICD10, CCAM, ALD), ``age``, ``sex``, ``territory``, ``period``.

- ``validate(hub, criteria)`` answers every problem with the JSON pointer of the bad value: the JSON Schema
  first, then meaning (dates, bounds, code shapes, codes the shipped nomenclatures do not know), then the
  catalogue's dictionary *and* the columns the lake's published versions actually hold.
- ``canonical(criteria)`` is the one text of a criteria: sorted keys, codes normalised, sorted and
  deduplicated, defaults written out, ``all``/``any`` flattened, sorted and deduplicated, ``not not``
  removed. Equivalent writings of the same criteria give the same text (the feasibility noise is seeded
  from it).
- ``population_query(criteria)`` compiles (pure, no I/O) to a SQLGlot tree selecting the distinct
  ``person_id`` of the matching persons over the relations ``acc_<TABLE>`` that ``bind_population`` makes
  in an engine from the lake's published versions and the latest person index; values are literal nodes,
  never text put into SQL. ``population_sql(hub, criteria)`` validates then compiles; ``count_persons``
  binds, compiles and counts (the exact count: feasibility never shows it).

Every table's rows are *events* of a person with a date interval (``ev_start``, ``ev_end``): a claim's
care date, a hospital stay's entry and exit (its diagnoses and procedures take their stay's), a long-term
illness's start and end, a death's date. Tables without a person of their own (a dispensing line, a stay's
diagnosis) take their parent row's person and dates through the SNDS join keys. Analysis cohorts will add
leaves (an index event, windows relative to it) to the same grammar and the same relations.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from guichet.engine import Engine, SourceBinding, literal, parquet_source
from guichet.errors import BadInput

if TYPE_CHECKING:  # imported where criteria are checked (see _validator)
    import jsonschema
from guichet.hub import Hub

SCHEMA_PATH = Path(__file__).parent / "schemas" / "criteria.schema.json"
KINDS = ("all", "any", "not", "codes", "age", "sex", "territory", "period")
SEX_CODES = {"male": "1", "female": "2"}  # IR_SEX_V
UNKNOWN_MONTH = 7  # a birth month the data lack: counted as born on 1 July
MAX_AGE = 130
NINE_KEYS = ("DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP", "FLX_TRT_DTD",
             "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")
SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"  # kept with every accepted row by the deposit


@dataclass(frozen=True)
class CriteriaError:
    """One problem of a criteria: ``path`` is the JSON pointer of the bad value (``/all/1/codes/0``)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


@dataclass(frozen=True)
class EventTable:
    """How a table's rows become events of a person: dates of its own, or its parent row's (and person)."""

    name: str
    start: str | None = None
    end: str | None = None
    parent: str | None = None
    keys: tuple[str, ...] = ()
    same_year: bool = False  # PMSI: a row's parent is in the same year's file


EVENT_TABLES: dict[str, EventTable] = {t.name: t for t in (
    EventTable("IR_BEN_R"),
    EventTable("ER_PRS_F", "EXE_SOI_DTD", "EXE_SOI_DTD"),
    EventTable("ER_PHA_F", parent="ER_PRS_F", keys=NINE_KEYS),
    EventTable("T_MCOaaC", "ENT_DAT", "SOR_DAT"),
    EventTable("T_MCOaaB", parent="T_MCOaaC", keys=("ETA_NUM", "RSA_NUM"), same_year=True),
    EventTable("T_MCOaaD", parent="T_MCOaaC", keys=("ETA_NUM", "RSA_NUM"), same_year=True),
    EventTable("T_MCOaaA", parent="T_MCOaaC", keys=("ETA_NUM", "RSA_NUM"), same_year=True),
    EventTable("IR_IMB_R", "IMB_ALD_DTD", "IMB_ALD_DTF"),
    EventTable("KI_CCI_R", "BEN_DCD_DTE", "BEN_DCD_DTE"),
    EventTable("KI_ECD_R", parent="KI_CCI_R", keys=("DCD_IDT_ENC",)),
)}


@dataclass(frozen=True)
class CodeSystem:
    name: str
    variables: tuple[str, ...]  # where codes are searched by default (TABLE.COLUMN)
    allowed: tuple[str, ...]  # every variable a criterion may name for this system
    pattern: str  # a normalised code's shape
    match: str  # the default: exact | prefix
    nomenclatures: tuple[tuple[str, str], ...] = ()  # shipped code lists (name, code column) that know the codes


_ICD10_VARS = ("T_MCOaaB.DGN_PAL", "T_MCOaaB.DGN_REL", "T_MCOaaD.ASS_DGN")
SYSTEMS: dict[str, CodeSystem] = {s.name: s for s in (
    CodeSystem("CIP13", ("ER_PHA_F.PHA_PRS_C13",), ("ER_PHA_F.PHA_PRS_C13",), r"^[0-9]{13}$", "exact"),
    CodeSystem("ATC", ("ER_PHA_F.PHA_PRS_C13",), ("ER_PHA_F.PHA_PRS_C13",),
               r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$", "prefix"),
    CodeSystem("ICD10", _ICD10_VARS,
               (*_ICD10_VARS, "IR_IMB_R.MED_MTF_COD", "KI_CCI_R.DCD_CIM_COD", "KI_ECD_R.ECD_CIM_COD"),
               r"^[A-Z][0-9]{2}[0-9A-Z+]{0,3}$", "prefix", (("MS_CIM_V", "CIM_COD"), ("IR_CIM_V", "CIM_COD"))),
    CodeSystem("CCAM", ("T_MCOaaA.CDC_ACT",), ("T_MCOaaA.CDC_ACT",), r"^[A-Z]{4}[0-9]{3}$", "exact",
               (("IR_CCAM_V63", "CAM_PRS_IDE_COD"),)),
    CodeSystem("ALD", ("IR_IMB_R.IMB_ALD_NUM",), ("IR_IMB_R.IMB_ALD_NUM",), r"^[0-9]{1,2}$", "exact",
               (("IR_ALD_V", "ALD_030_COD"),)),
)}
# What the other leaves read (beyond the person): the beneficiaries' referential, claims and stays.
BEN = "IR_BEN_R"
LEAF_VARIABLES: dict[str, tuple[str, ...]] = {
    "age": ("IR_BEN_R.BEN_NAI_ANN",),
    "sex": ("IR_BEN_R.BEN_SEX_COD",),
    "territory": ("IR_BEN_R.BEN_RES_DPT",),
    "period": ("ER_PRS_F.EXE_SOI_DTD", "T_MCOaaC.ENT_DAT"),  # either suffices
}
OPTIONAL_VARIABLES = ("IR_BEN_R.BEN_NAI_MOI", "T_MCOaaC.SOR_DAT", "IR_IMB_R.IMB_ALD_DTF")


# ---------------------------------------------------------------------------------------------------------
# reference data: the shipped nomenclatures and the drug referential
# ---------------------------------------------------------------------------------------------------------

@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@cache
def _nomenclature_codes(name: str, column: str) -> frozenset[str]:
    from guichet.schema.nomenclatures import FOLDER

    path = FOLDER / f"{name}.csv"
    if not path.is_file():
        return frozenset()
    with path.open(encoding="utf-8", newline="") as fh:
        return frozenset(normal_code("ICD10" if "CIM" in name else "", r.get(column) or "")
                         for r in csv.DictReader(fh, delimiter=";"))


@cache
def _known_prefixes(system: str) -> frozenset[str]:
    """Every prefix of every code the system's shipped nomenclatures hold (a prefix match is known when
    some code starts with it)."""
    codes: set[str] = set()
    for name, column in SYSTEMS[system].nomenclatures:
        codes |= _nomenclature_codes(name, column)
    return frozenset(c[:i] for c in codes for i in range(1, len(c) + 1))


@cache
def drug_referential() -> tuple[tuple[str, str], ...]:
    """(CIP13, ATC) of every pack of the drug referential shipped with the package (``synth/data/drugs.csv``,
    from SCALPEL-Extraction's IR_PHA_R extract; see its licence file beside it)."""
    text = resources.files("guichet.synth").joinpath("data", "drugs.csv").read_text(encoding="utf-8")
    return tuple((r["PHA_CIP_C13"].strip(), r["PHA_ATC_C07"].strip().upper())
                 for r in csv.DictReader(text.splitlines(), delimiter=";") if r.get("PHA_CIP_C13"))


def atc_to_cip13(prefixes: list[str]) -> list[str]:
    """The CIP13 codes whose ATC class starts with one of ``prefixes``, sorted."""
    wanted = tuple(prefixes)
    return sorted({cip for cip, atc in drug_referential() if atc.startswith(wanted)})


@cache
def departement_regions() -> dict[str, str]:
    """Département (3 characters, ``075``, ``02A``) → région code, from the shipped IR_DPT_V."""
    from guichet.schema.nomenclatures import FOLDER

    with (FOLDER / "IR_DPT_V.csv").open(encoding="utf-8", newline="") as fh:
        return {r["GEO_DPT_COD"]: r["GEO_REG_COD"] for r in csv.DictReader(fh, delimiter=";")}


def normal_departement(code: str) -> str:
    c = code.strip().upper()
    return c.zfill(3)


def normal_code(system: str, code: str) -> str:
    """A code as the criteria compare it: upper case, no spaces; ICD-10, ATC and CCAM without dots."""
    c = code.strip().upper().replace(" ", "")
    return c.replace(".", "") if system in ("ICD10", "ATC", "CCAM", "") else c


# ---------------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------------

def pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    # imported here, not at the top: with rfc3987-syntax installed (the notebook extra) jsonschema's import
    # builds a grammar (~1.7 s of CPU), which every process importing this module would pay
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def _schema_errors(criteria: Any) -> list[CriteriaError]:
    return schema_errors(_validator(), criteria, _schema_message)


def schema_errors(validator: jsonschema.protocols.Validator, document: Any,
                  message: Callable[[jsonschema.ValidationError], str]) -> list[CriteriaError]:
    """Every complaint of ``validator`` about ``document``, once each, at its JSON pointer, in ``message``'s
    words (the criteria's and the statistics requests' validators share this)."""
    out: list[CriteriaError] = []
    seen: set[tuple[str, str]] = set()
    for err in sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        if err.validator in ("if", "allOf"):
            continue
        path, text = pointer(err.absolute_path), message(err)
        if (path, text) not in seen:
            seen.add((path, text))
            out.append(CriteriaError(path, text))
    return out


def _schema_message(err: jsonschema.ValidationError) -> str:
    """The schema's complaint in words that do not repeat the value (it may be long, or not text)."""
    v = err.validator
    if v == "anyOf":
        return "not a criterion: an object with one of the keys " + ", ".join(KINDS)
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {}))) if isinstance(err.instance, dict) else []
        return f"unexpected key {', '.join(extra)} (allowed: {', '.join(sorted(err.schema.get('properties', {})))})"
    if v == "required":
        return str(err.message).split(" is a required")[0].strip("'") + " is required"
    if v == "type":
        return f"must be {'an' if str(err.validator_value)[0] in 'aeiou' else 'a'} {err.validator_value}"
    if v == "enum":
        return "must be one of " + ", ".join(map(str, err.validator_value))
    if v == "pattern":
        return "not in the expected form"
    if v in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "minProperties"):
        return f"{v} is {err.validator_value}"
    return str(err.message)[:200]


def parse_date(value: str, path: str, errors: list[CriteriaError]) -> dt.date | None:
    """The date, or None with the problem added to ``errors`` at ``path``."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.append(CriteriaError(path, "not a date (YYYY-MM-DD)"))
        return None


def _window(window: dict[str, str], path: str, errors: list[CriteriaError]) -> None:
    start = parse_date(window["from"], path + "/from", errors) if "from" in window else None
    end = parse_date(window["to"], path + "/to", errors) if "to" in window else None
    if start and end and start > end:
        errors.append(CriteriaError(path, "'from' is after 'to'"))


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every criterion of a (schema-valid) criteria with its JSON pointer, parents first."""
    yield path, node
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        for i, child in enumerate(node[key]):
            yield from walk(child, f"{path}/{key}/{i}")
    elif "not" in node:
        yield from walk(node["not"], f"{path}/not")


def kind_of(node: dict[str, Any]) -> str:
    return next(k for k in KINDS if k in node)


def _meaning_errors(criteria: dict[str, Any]) -> list[CriteriaError]:
    errors: list[CriteriaError] = []
    for path, node in walk(criteria):
        kind = kind_of(node)
        if "during" in node:
            _window(node["during"], path + "/during", errors)
        if kind == "period":
            _window(node["period"], path + "/period", errors)
        elif kind == "age":
            bounds = node["age"]
            if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
                errors.append(CriteriaError(path + "/age", "'min' is above 'max'"))
            if ("at" in node) == ("during" in node):
                errors.append(CriteriaError(path, "an age needs either 'at' (a date) or 'during' (a period)"))
            if "at" in node:
                parse_date(node["at"], path + "/at", errors)
        elif kind == "territory":
            regions = set(departement_regions().values())
            for i, d in enumerate(node["territory"].get("departements", [])):
                if normal_departement(d) not in departement_regions():
                    errors.append(CriteriaError(f"{path}/territory/departements/{i}", "not a département of IR_DPT_V"))
            for i, r in enumerate(node["territory"].get("regions", [])):
                if r.zfill(2) not in regions:
                    errors.append(CriteriaError(f"{path}/territory/regions/{i}", "not a région of IR_DPT_V"))
        elif kind == "codes":
            errors.extend(_code_errors(node, path))
    return errors


def _code_errors(node: dict[str, Any], path: str) -> list[CriteriaError]:
    errors: list[CriteriaError] = []
    system = SYSTEMS[node["system"]]
    match = node.get("match", system.match)
    for i, variable in enumerate(node.get("variables", [])):
        if variable not in system.allowed:
            errors.append(CriteriaError(f"{path}/variables/{i}",
                                        f"{node['system']} codes are searched in {', '.join(system.allowed)}"))
    known = _known_prefixes(system.name) if system.nomenclatures else None
    for i, raw in enumerate(node["codes"]):
        code = normal_code(system.name, raw)
        where = f"{path}/codes/{i}"
        if not re.match(system.pattern, code) and not (match == "prefix" and system.name == "ICD10"
                                                        and re.match(r"^[A-Z][0-9]{0,2}$", code)):
            errors.append(CriteriaError(where, f"not a{'n' if system.name[0] in 'AI' else ''} {system.name} code"))
            continue
        if known is not None and code not in known:
            errors.append(CriteriaError(where, f"not a code of {' or '.join(n for n, _ in system.nomenclatures)}"
                                        + (" (nor the start of one)" if match == "prefix" else "")))
        elif system.name == "ATC" and not atc_to_cip13([code]):
            errors.append(CriteriaError(where, "no drug of the referential has this ATC class"))
        elif match == "exact" and known is not None and system.name == "ICD10" and code not in _nomenclature_codes(
                *system.nomenclatures[0]) | _nomenclature_codes(*system.nomenclatures[1]):
            errors.append(CriteriaError(where, "not a full ICD-10 code (use \"match\": \"prefix\" for a category)"))
    return errors


def variables_used(criteria: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(JSON pointer, TABLE.COLUMN, group) of every variable a valid criteria reads. A group needs one of its
    variables held by the lake: a variable a criterion names is a group of its own; the defaults of a code
    system (ICD-10: the stays' three diagnosis columns) or a period (claims or stays) are one group."""
    out: list[tuple[str, str, str]] = []
    for path, node in walk(criteria):
        kind = kind_of(node)
        if kind == "codes":
            given = node.get("variables")
            if given:
                out.extend((f"{path}/variables/{i}", v, f"{path}/variables/{i}") for i, v in enumerate(given))
            else:
                out.extend((f"{path}/system", v, f"{path}/system") for v in SYSTEMS[node["system"]].variables)
        elif kind == "period":
            out.extend((f"{path}/period", v, f"{path}/period") for v in LEAF_VARIABLES[kind])
        elif kind in LEAF_VARIABLES:
            out.extend((f"{path}/{kind}", v, f"{path}/{kind}/{v}") for v in LEAF_VARIABLES[kind])
    return out


def held_columns(hub: Hub) -> dict[str, set[str]]:
    """The columns of the current published version of every dataset (what the lake actually holds)."""
    from guichet.lake import published_datasets, schema_of

    out: dict[str, set[str]] = {}
    for name, info in published_datasets(hub).items():
        cols = set(info.columns)
        if not cols:
            found = schema_of(hub, name, info.schema_version)
            cols = {f.name for f in found.fields} if found else set()
        out[name] = cols
    return out


def _lake_errors(hub: Hub, criteria: dict[str, Any]) -> list[CriteriaError]:
    from guichet.catalogue.dictionary import table_variables

    used = variables_used(criteria)
    tables = {v.split(".")[0] for _, v, _ in used}
    tables |= {p for p in (EVENT_TABLES[t].parent for t in tables) if p}
    dictionary = table_variables(hub, tables)
    held = held_columns(hub)
    groups: dict[str, tuple[str, list[str | None]]] = {}
    for path, variable, group in used:
        table, column = variable.split(".")
        problem = None
        if column not in dictionary.get(table, {}):
            problem = f"{variable} is not in the catalogue's dictionary"
        elif table not in held:
            problem = f"{table} has no published version in the lake"
        elif column not in held[table]:
            problem = f"{variable} is described in the dictionary but the lake's published {table} does not hold it"
        else:
            parent = EVENT_TABLES[table].parent
            if parent and parent not in held:
                problem = f"{table} rows get their person and dates from {parent}, which has no published version"
        groups.setdefault(group, (path, []))[1].append(problem)
    errors: list[CriteriaError] = []
    for path, problems in groups.values():
        if all(problems):  # none of the group's variables is usable
            errors.append(CriteriaError(path, "; ".join(p for p in problems if p)))
    return errors


def validate(hub: Hub | None, criteria: Any) -> list[CriteriaError]:
    """Every problem of ``criteria``, each with the JSON pointer of the bad value; [] when it is valid.

    Without a hub (``None``) only the schema and the meaning are checked, not the dictionary and the lake."""
    errors = _schema_errors(criteria)
    if errors:
        return errors
    errors = _meaning_errors(criteria)
    if errors or hub is None:
        return errors
    return _lake_errors(hub, criteria)


def require_valid(hub: Hub | None, criteria: Any) -> None:
    errors = validate(hub, criteria)
    if errors:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise BadInput(f"criteria: {shown}{more}")


# ---------------------------------------------------------------------------------------------------------
# canonical form
# ---------------------------------------------------------------------------------------------------------

def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normal_codes(system: str, codes: list[str], match: str) -> list[str]:
    """Codes normalised, deduplicated and sorted; with a prefix match, a code another one starts (``E11``
    and ``E119``) keeps only the shorter one (the same persons)."""
    found = sorted({normal_code(system, c) for c in codes})
    if match == "prefix":
        found = [c for c in found if not any(c != o and c.startswith(o) for o in found)]
    return found


def _canon(node: dict[str, Any]) -> dict[str, Any]:
    kind = kind_of(node)
    if kind in ("all", "any"):
        children: dict[str, dict[str, Any]] = {}
        for child in node[kind]:
            c = _canon(child)
            for part in (c[kind] if kind_of(c) == kind else [c]):  # all of all: one all
                children[_dumps(part)] = part
        ordered = [children[k] for k in sorted(children)]
        return ordered[0] if len(ordered) == 1 else {kind: ordered}
    if kind == "not":
        inner = _canon(node["not"])
        return inner["not"] if kind_of(inner) == "not" else {"not": inner}
    if kind == "codes":
        system = SYSTEMS[node["system"]]
        out: dict[str, Any] = {
            "codes": normal_codes(system.name, node["codes"], node.get("match", system.match)),
            "system": system.name,
            "match": node.get("match", system.match),
            "variables": sorted(set(node.get("variables") or system.variables)),
        }
        if "during" in node:
            out["during"] = dict(node["during"])
        return out
    if kind == "territory":
        t = node["territory"]
        terr: dict[str, Any] = {}
        if t.get("departements"):
            terr["departements"] = sorted({normal_departement(d) for d in t["departements"]})
        if t.get("regions"):
            terr["regions"] = sorted({r.zfill(2) for r in t["regions"]})
        return {"territory": terr}
    if kind == "age":
        out = {"age": {"min": int(node["age"].get("min", 0)), "max": int(node["age"].get("max", MAX_AGE))}}
        for key in ("at", "during"):
            if key in node:
                out[key] = node[key] if key == "at" else dict(node[key])
        return out
    return json.loads(_dumps(node))  # sex, period: as they are (keys sorted)


def canonical_tree(criteria: Any) -> dict[str, Any]:
    errors = validate(None, criteria)
    if errors:
        raise BadInput("criteria: " + "; ".join(str(e) for e in errors[:5]))
    return _canon(criteria)


def canonical(criteria: Any) -> str:
    """The canonical text of a valid criteria: the same for every equivalent writing of it (BadInput when
    the criteria is not valid against the schema and its meaning)."""
    return _dumps(canonical_tree(criteria))


def fingerprint(canonical_text: str) -> str:
    """A short fingerprint of a canonical form (16 hex digits): what the audit trail records."""
    return hashlib.sha256(canonical_text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# compilation
# ---------------------------------------------------------------------------------------------------------

def relation(table: str) -> str:
    return f"acc_{table}"


PERSONS = "acc_persons"


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _text(name: str) -> exp.Expr:
    """A column's value as the criteria compare codes: text, trimmed, upper case, without dots."""
    return exp.func("replace", exp.Upper(this=exp.Trim(this=exp.cast(_col(name), "VARCHAR"))),
                    literal("."), literal(""))


def _overlaps(window: dict[str, str]) -> exp.Expr | None:
    """The event interval [ev_start, ev_end] meets the window (both ends included; an open end is open)."""
    conds: list[exp.Expr] = []
    if "from" in window:
        conds.append(exp.func("coalesce", _col("ev_end"), _col("ev_start")) >= _date_literal(window["from"]))
    if "to" in window:
        conds.append(_col("ev_start") <= _date_literal(window["to"]))
    return exp.and_(*conds) if conds else None


def _date_literal(value: str) -> exp.Expr:
    return exp.cast(literal(dt.date.fromisoformat(value).isoformat()), "DATE")


def _persons_where(table: str, condition: exp.Expr | None) -> exp.Select:
    q = exp.select(_col("person_id")).from_(relation(table))
    return q.where(condition) if condition is not None else q


def _age_at(day: exp.Expr) -> exp.Expr:
    """Whole years at ``day`` of a person born in BEN_NAI_ANN / BEN_NAI_MOI (on the 1st of that month)."""
    year = exp.cast(_col("BEN_NAI_ANN"), "INT")
    month = exp.func("coalesce", exp.TryCast(this=_col("BEN_NAI_MOI"), to=exp.DataType.build("INT")),
                     literal(UNKNOWN_MONTH))
    before = exp.case().when(exp.Extract(this=exp.var("MONTH"), expression=day) < month, literal(1)).else_(literal(0))
    return exp.Extract(this=exp.var("YEAR"), expression=day) - year - before


def _union(queries: list[exp.Select]) -> exp.Query:
    out: exp.Query = queries[0]
    for q in queries[1:]:
        out = exp.union(out, q, distinct=True)
    return out


def _leaf(node: dict[str, Any]) -> exp.Query:
    kind = kind_of(node)
    if kind == "codes":
        system = SYSTEMS[node["system"]]
        match = node.get("match", system.match)
        codes = normal_codes(system.name, node["codes"], match)
        if system.name == "ATC":
            codes, match = atc_to_cip13(codes), "exact"
        window = _overlaps(node["during"]) if "during" in node else None
        parts = []
        for variable in sorted(set(node.get("variables") or system.variables)):
            table, column = variable.split(".")
            value = _text(column)
            if not codes:
                cond: exp.Expr = exp.false()
            elif match == "exact":
                cond = value.isin(*[literal(c) for c in codes])
            else:
                cond = exp.or_(*[exp.func("starts_with", value.copy(), literal(c)) for c in codes])
            parts.append(_persons_where(table, exp.and_(cond, window) if window is not None else cond))
        return _union(parts)
    if kind == "age":
        low, high = int(node["age"].get("min", 0)), int(node["age"].get("max", MAX_AGE))
        if "at" in node:
            age = _age_at(_date_literal(node["at"]))
            cond = exp.and_(age >= literal(low), age.copy() <= literal(high))
        else:
            w = node["during"]
            # some day of the period at which the age is within [low, high]: old enough by its end, not too old
            # at its start (an open end: no bound from that side)
            conds: list[exp.Expr] = []
            if "to" in w:
                conds.append(_age_at(_date_literal(w["to"])) >= literal(low))
            if "from" in w:
                conds.append(_age_at(_date_literal(w["from"])) <= literal(high))
            cond = exp.and_(*conds) if conds else exp.true()
        return _persons_where(BEN, exp.and_(_col("BEN_NAI_ANN").is_(exp.null()).not_(), cond))
    if kind == "sex":
        return _persons_where(BEN, _text("BEN_SEX_COD").eq(literal(SEX_CODES[node["sex"]])))
    if kind == "territory":
        t = node["territory"]
        wanted = {normal_departement(d) for d in t.get("departements", [])}
        regions = {r.zfill(2) for r in t.get("regions", [])}
        wanted |= {d for d, r in departement_regions().items() if r in regions}
        value = exp.func("lpad", _text("BEN_RES_DPT"), literal(3), literal("0"))
        return _persons_where(BEN, value.isin(*[literal(d) for d in sorted(wanted)]))
    if kind == "period":
        window = _overlaps(node["period"])
        return _union([_persons_where("ER_PRS_F", window), _persons_where("T_MCOaaC", window)])
    raise BadInput(f"criteria: unknown criterion {kind}")  # pragma: no cover - the schema refuses it


def _operand(query: exp.Query) -> exp.Query:
    """A set operation as an operand of another, in its own subquery: SQL's set operators associate to the
    left and INTERSECT binds tighter than UNION, so ``a UNION b INTERSECT c`` is not ``(a UNION b) INTERSECT c``
    — nothing is left to precedence."""
    if isinstance(query, exp.SetOperation):
        return exp.select(_col("person_id")).from_(query.subquery("part"))
    return query


def _node(node: dict[str, Any]) -> exp.Query:
    kind = kind_of(node)
    if kind in ("all", "any"):
        parts = [_operand(_node(c)) for c in node[kind]]
        out = parts[0]
        for p in parts[1:]:
            out = exp.intersect(out, p, distinct=True) if kind == "all" else exp.union(out, p, distinct=True)
        return out
    if kind == "not":
        return exp.except_(exp.select(_col("person_id")).from_(PERSONS), _operand(_node(node["not"])), distinct=True)
    return _leaf(node)


def population_query(criteria: dict[str, Any]) -> exp.Select:
    """``SELECT DISTINCT person_id`` of the persons matching ``criteria`` (schema-valid; not checked here)
    over the relations ``acc_<TABLE>`` and ``acc_persons`` — a SQLGlot tree whose values are literals."""
    inner = _node(criteria).subquery("population")
    return exp.select(_col("person_id")).distinct().from_(inner).where(_col("person_id").is_(exp.null()).not_())


def population_sql(hub: Hub, criteria: dict[str, Any]) -> exp.Select:
    """Validate ``criteria`` against the schema, the dictionary and the lake, then compile it (BadInput with
    the paths of the problems otherwise). Run it on an engine where ``bind_population`` made the relations."""
    require_valid(hub, criteria)
    return population_query(criteria)


def count_query(criteria: dict[str, Any]) -> exp.Select:
    return exp.select(exp.Count(this=exp.Star())).from_(population_query(criteria).subquery("persons"))


# ---------------------------------------------------------------------------------------------------------
# binding: the lake's published versions and the person index as the relations the query reads
# ---------------------------------------------------------------------------------------------------------

def tables_needed(criteria: dict[str, Any]) -> dict[str, set[str]]:
    """{table: columns} every relation must hold for ``criteria`` (parents included, with their keys)."""
    need: dict[str, set[str]] = {}
    for _, variable, _ in variables_used(criteria):
        table, column = variable.split(".")
        need.setdefault(table, set()).add(column)
    if BEN in need:
        need[BEN].update(c.split(".")[1] for c in OPTIONAL_VARIABLES if c.startswith(BEN + "."))
    for table in list(need):
        spec = EVENT_TABLES[table]
        if spec.parent:
            need[table].update(spec.keys)
            need.setdefault(spec.parent, set()).update(spec.keys)
    for table, cols in need.items():
        spec = EVENT_TABLES[table]
        cols.update(c for c in (spec.start, spec.end) if c)
    return need


def _temp(engine: Engine, name: str, query: exp.Expr, purpose: str, *, table: bool = True) -> None:
    engine.execute(exp.Create(this=exp.to_table(name), kind="TABLE" if table else "VIEW", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=query),
                   purpose=purpose)


def _label() -> exp.Expr:
    return exp.func("regexp_replace", exp.cast(_col(SOURCE_FILE), "VARCHAR"), literal(r"\.csv$"), literal(""))


def _key(name: str, alias: str | None = None) -> exp.Expr:
    """A join key as text without leading zeros: the same value typed differently by two tables' schemas
    (an integer in one, a string in the other) still joins."""
    col = exp.column(name, table=alias, quoted=True) if alias else _col(name)
    return exp.func("ltrim", exp.cast(col, "VARCHAR"), literal("0"))


def _as_date(column: str, present: set[str]) -> exp.Expr:
    if column not in present:
        return exp.cast(exp.Null(), "DATE")
    return exp.TryCast(this=_col(column), to=exp.DataType.build("DATE"))


def bind_population(hub: Hub, engine: Engine, criteria: dict[str, Any]) -> dict[str, int]:
    """Make ``acc_persons`` and the ``acc_<TABLE>`` relations ``criteria`` reads in ``engine``: each table's
    published version (the one the latest person index was linked from when it is still published, else the
    current one), its rows given their person through the index's links. Answers {table: version}.

    Encrypted Parquet is read once per file into temporary tables (DuckDB 2.0.1 cannot scan two encrypted
    files in one query, see ``linkage/sources.py``); the queries then only read those."""
    from guichet.custodian import custodian_for
    from guichet.lake import open_info, published_versions
    from guichet.linkage.index import require_latest

    run = require_latest(hub)
    meta = run.files["links"]
    key = custodian_for(hub.config).unwrap(meta["key_id"], meta["wrapped"])
    key_name = "k_acc_links"
    engine.add_parquet_key(key_name, key)
    engine.bind("acc_links_file", parquet_source([hub.home / meta["path"]], key_name),
                SourceBinding("acc_links_file", "parquet", str(meta["path"]), {"key_id": meta["key_id"]}))
    need = tables_needed(criteria)
    anchors = sorted(t for t in need if not EVENT_TABLES[t].parent)
    # only the links of the tables read (the index links every delivered row of every table)
    _temp(engine, "acc_links", exp.select(_col("_table"), _col("_row"), _col("person_id")).from_("acc_links_file")
          .where(exp.and_(_col("person_id").is_(exp.null()).not_(),
                          _col("logical").isin(*[literal(t) for t in anchors]))), "criteria: person index links")
    if any(kind_of(node) == "not" for _, node in walk(criteria)):  # the persons of the index, for ``not``
        _temp(engine, PERSONS, exp.select(_col("person_id")).distinct().from_("acc_links_file")
              .where(_col("person_id").is_(exp.null()).not_()), "criteria: persons")
    linked_from = {str(k): int(v) for k, v in dict((run.summary or {}).get("versions", {})).items()}
    used: dict[str, int] = {}
    order = [t for t in need if not EVENT_TABLES[t].parent] + [t for t in need if EVENT_TABLES[t].parent]
    for table in order:
        spec = EVENT_TABLES[table]
        published = {v.version: v for v in published_versions(hub, table)}
        if not published:  # validation let it through: another variable of its group is held
            empty = [exp.alias_(exp.cast(exp.Null(), "VARCHAR"), c, quoted=True)
                     for c in ("person_id", *sorted(need[table]), "_year")]
            empty += [exp.alias_(exp.cast(exp.Null(), "DATE"), c) for c in ("ev_start", "ev_end")]
            _temp(engine, relation(table), exp.select(*empty).where(exp.false()), f"criteria: {table} (none)")
            continue
        info = published.get(linked_from.get(table, -1)) or published[max(published)]
        used[table] = info.version
        rel = open_info(hub, engine, info, view=f"acc_src_{table}")
        present = set(info.columns) or {f.name for f in (rel.schema.fields if rel.schema else ())}
        cols: list[exp.Expr] = []
        for c in sorted(need[table]):
            value = exp.cast(_col(c), "VARCHAR") if c in present else exp.cast(exp.Null(), "VARCHAR")
            cols.append(exp.alias_(value, c, quoted=True))
        cols += [exp.alias_(_as_date(spec.start, present) if spec.start else exp.cast(exp.Null(), "DATE"), "ev_start"),
                 exp.alias_(_as_date(spec.end, present) if spec.end else exp.cast(exp.Null(), "DATE"), "ev_end"),
                 exp.alias_(_label(), "_label"), exp.alias_(exp.cast(_col(SOURCE_ROW), "BIGINT"), "_row"),
                 exp.alias_(exp.func("nullif", exp.RegexpExtract(this=_label(), expression=literal(
                     r"T_[A-Z]{3}([0-9]{2})[A-Z]+$"), group=literal(1)), literal("")), "_year")]
        _temp(engine, f"acc_raw_{table}", exp.select(*cols).from_(rel.view), f"criteria: read {table}")
        if spec.parent is None:
            q = (exp.select(exp.column("person_id", table="l", quoted=True), exp.column(exp.Star(), table="r"))
                 .from_(exp.alias_(exp.to_table(f"acc_raw_{table}"), "r", table=True))
                 .join(exp.alias_(exp.to_table("acc_links"), "l", table=True),
                       on=exp.and_(exp.column("_table", table="l").eq(exp.column("_label", table="r")),
                                   exp.column("_row", table="l").eq(exp.column("_row", table="r"))),
                       join_type="inner"))
        else:
            conds: list[exp.Expr] = [_key(k, "c").eq(_key(k, "p")) for k in spec.keys]
            if spec.same_year:
                conds.append(exp.NullSafeEQ(this=exp.column("_year", table="c"), expression=exp.column("_year", table="p")))
            child_cols = [exp.column(c, table="c", quoted=True) for c in sorted(need[table])]
            q = (exp.select(exp.column("person_id", table="p", quoted=True),
                            exp.alias_(exp.column("ev_start", table="p"), "ev_start"),
                            exp.alias_(exp.column("ev_end", table="p"), "ev_end"), *child_cols)
                 .from_(exp.alias_(exp.to_table(f"acc_raw_{table}"), "c", table=True))
                 .join(exp.alias_(exp.to_table(relation(spec.parent)), "p", table=True), on=exp.and_(*conds),
                       join_type="inner"))
        _temp(engine, relation(table), q, f"criteria: persons of {table}")
    return used


def count_persons(hub: Hub, criteria: dict[str, Any], engine: Engine | None = None) -> int:
    """The exact number of distinct persons matching ``criteria`` on the published data (validated first).
    Read-only: the lake's files are read with their keys into a private engine; nothing is written."""
    require_valid(hub, criteria)
    if engine is not None:
        bind_population(hub, engine, criteria)
        return int(engine.fetch_all(count_query(criteria), purpose="criteria: count persons")[0][0])
    with Engine() as own:
        bind_population(hub, own, criteria)
        return int(own.fetch_all(count_query(criteria), purpose="criteria: count persons")[0][0])
