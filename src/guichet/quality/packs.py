"""Rule packs: YAML files of checks, organised like the OHDSI Data Quality Dashboard (Kahn framework).

A pack names tables by glob (``T_MCO*C`` matches ``T_MCO23C``); each rule is one check. Everything is
validated when the pack is loaded, and every problem is one line naming the pack, the table and the rule::

    pack: snds-core
    version: 1
    tables:
      ER_PRS_F:
        - id: care_before_flow
          kind: date_order
          columns: [EXE_SOI_DTD, FLX_DIS_DTD]
          category: plausibility
          subcategory: temporal
          severity: blocking
          threshold: 5
          description: care is paid in a flow month after it was given

Cross-table rules name their parent with ``ref: {table, columns}``; ``{stem}`` in ``ref.table`` is the
dataset's name without its last letter (``T_MCO23C`` → ``T_MCO23B``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from guichet.errors import BadInput
from guichet.quality.model import (
    CATEGORIES,
    CROSS_KINDS,
    DEFAULT_BLOCKING_THRESHOLD,
    KINDS,
    SEVERITIES,
    SUBCATEGORIES,
    Check,
)
from guichet.quality.sql import condition_columns, parse_condition

PACKS = Path(__file__).parent / "packs"
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NEEDS: dict[str, tuple[str, ...]] = {
    "value_in": ("values",), "sentinel": ("values",), "marker": ("values",), "range": (), "pattern": ("pattern",),
    "max_length": ("length",), "min_length": ("length",), "condition": ("sql",), "foreign_key": ("ref",),
    "after_death": ("ref", "death"), "before_birth": ("ref", "birth"), "flow_volume": (), "drift": (),
}
COLUMN_COUNT = {"date_order": 2}
KNOWN_KEYS = {"id", "kind", "columns", "category", "subcategory", "severity", "threshold", "description",
              "values", "pattern", "length", "min", "max", "value_kind", "sql", "ref", "death", "birth",
              "tolerance_days", "sentinels", "max_days", "min_ratio", "max_ratio", "flags_rows", "as_of",
              "max_shift", "top", "keys", "reference", "unit", "hospital"}


@dataclass(frozen=True)
class RulePack:
    name: str
    version: str
    description: str
    tables: dict[str, tuple[Check, ...]]  # glob -> checks (table field = the glob; bound later)
    path: str = ""

    def checks_for(self, dataset: str, schema_name: str, *, as_of: dt.date) -> list[Check]:
        out: list[Check] = []
        for glob, checks in self.tables.items():
            if fnmatch.fnmatchcase(dataset, glob) or fnmatch.fnmatchcase(schema_name, glob):
                out.extend(bind(c, dataset, as_of) for c in checks)
        return out


def bind(check: Check, dataset: str, as_of: dt.date) -> Check:
    """A pack rule made concrete for one dataset: its id, its table, ``{stem}`` and ``as_of`` resolved."""
    params = dict(check.params)
    if "ref" in params:
        ref = dict(params["ref"])
        ref["table"] = str(ref["table"]).replace("{stem}", dataset[:-1])
        params["ref"] = ref
    if check.kind == "not_future" and "as_of" not in params:
        params["as_of"] = as_of.isoformat()
    rule = check.id.split(".")[-1]
    return check.with_(id=f"{dataset}.{rule}", table=dataset, params=params)


def _fail(where: str, text: str) -> BadInput:
    return BadInput(f"{where}: {text}")


def parse_rule(raw: Any, where: str, pack: str) -> Check:
    if not isinstance(raw, dict):
        raise _fail(where, "a rule must be a mapping")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}")
    rid = raw.get("id")
    if not isinstance(rid, str) or not RULE_ID.match(rid):
        raise _fail(where, "id must be lower_snake_case (letters, digits, _)")
    where = f"{where} ({rid})"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _fail(where, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    category = raw.get("category", "plausibility")
    if category not in CATEGORIES:
        raise _fail(where, f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    sub = raw.get("subcategory", "")
    if sub not in SUBCATEGORIES:
        raise _fail(where, f"subcategory {sub!r} is not one of {', '.join(s for s in SUBCATEGORIES if s)}")
    default_sev = "warning" if category == "completeness" else "blocking"
    severity = raw.get("severity", default_sev)
    if severity not in SEVERITIES:
        raise _fail(where, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    threshold = raw.get("threshold", DEFAULT_BLOCKING_THRESHOLD)
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
        raise _fail(where, "threshold is a percentage between 0 and 100")
    columns = raw.get("columns", [])
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _fail(where, "columns must be a list of column names")
    if kind == "condition":
        sql = raw.get("sql")
        if not isinstance(sql, str):
            raise _fail(where, "a condition needs 'sql', a boolean expression")
        try:  # the condition's own message, prefixed with the pack, the table and the rule
            columns = columns or list(condition_columns(sql))
            parse_condition(sql, columns)
        except BadInput as exc:
            raise _fail(where, str(exc)) from None
    if kind == "nomenclature" and "reference" not in raw:
        raise _fail(where, "kind nomenclature in a pack needs 'reference' (a shipped code list)")
    for need in NEEDS.get(kind, ()):
        if need not in raw:
            raise _fail(where, f"kind {kind} needs {need!r}")
    if kind not in ("flow_volume", "drift") and not columns:
        raise _fail(where, f"kind {kind} needs 'columns'")
    if kind in COLUMN_COUNT and len(columns) != COLUMN_COUNT[kind]:
        raise _fail(where, f"kind {kind} needs exactly {COLUMN_COUNT[kind]} columns (start, end)")
    if kind in ("value_in", "sentinel", "marker") and not isinstance(raw["values"], list):
        raise _fail(where, "values must be a list")
    if "unit" in raw and (kind != "date_order" or raw["unit"] not in ("day", "month")):
        raise _fail(where, "unit (day or month) applies to date_order only")
    if "hospital" in raw:
        h = raw["hospital"]
        hospital_keys = ("stays", "exits", "patient", "date", "link", "mode", "parent_key")
        if kind != "after_death" or not isinstance(h, dict) or any(k not in h for k in hospital_keys):
            raise _fail(where, f"hospital (after_death only) needs {', '.join(hospital_keys)}")
    if kind == "pattern":
        try:
            re.compile(str(raw["pattern"]))
        except re.error:
            raise _fail(where, "pattern is not a valid regular expression") from None
    if kind in CROSS_KINDS:
        ref = raw["ref"]
        if not isinstance(ref, dict) or not isinstance(ref.get("table"), str) or not isinstance(ref.get("columns"), list):
            raise _fail(where, "ref needs 'table' and 'columns'")
        keys = raw.get("keys", columns)
        if not isinstance(keys, list) or len(ref["columns"]) != len(keys):
            raise _fail(where, "ref.columns must pair with the keys (or columns) of the rule")
    params = {k: v for k, v in raw.items() if k not in ("id", "kind", "columns", "category", "subcategory",
                                                         "severity", "threshold", "description", "flags_rows")}
    flags = bool(raw.get("flags_rows", kind not in ("flow_volume", "drift") and severity != "info"))
    return Check(rid, "", kind, category, sub, severity, float(threshold), tuple(columns), params,
                 str(raw.get("description", "")), f"pack:{pack}", flags)


def parse_pack(raw: Any, where: str) -> RulePack:
    if not isinstance(raw, dict) or not isinstance(raw.get("pack"), str) or not isinstance(raw.get("tables"), dict):
        raise _fail(where, "a rule pack needs 'pack' (its name) and 'tables'")
    name = raw["pack"]
    tables: dict[str, tuple[Check, ...]] = {}
    for glob, rules in raw["tables"].items():
        if not isinstance(rules, list):
            raise _fail(f"{where}: table {glob}", "a list of rules is expected")
        checks = tuple(parse_rule(r, f"{where}: table {glob} rule {i + 1}", name) for i, r in enumerate(rules))
        ids = [c.id for c in checks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise _fail(f"{where}: table {glob}", f"rule id {dupes[0]} is used twice")
        tables[str(glob)] = checks
    return RulePack(name, str(raw.get("version", "1")), str(raw.get("description", "")), tables, where)


def load_pack(path: Path) -> RulePack:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        raise BadInput(f"{path}: rule pack cannot be read") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise BadInput(f"{path}: not valid YAML{f' (line {line + 1})' if line is not None else ''}") from None
    return parse_pack(raw, str(path.name))


def builtin_packs() -> list[RulePack]:
    return [load_pack(p) for p in sorted(PACKS.glob("*.yaml"))]
