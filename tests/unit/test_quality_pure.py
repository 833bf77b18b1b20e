"""Quality, pure parts: checks generated from a Table Schema, rule-pack loading and its one-line errors,
flow anomalies and drift (no engine, no I/O beyond the shipped packs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from guichet.errors import BadInput
from guichet.quality.generate import schema_checks
from guichet.quality.model import LEARNT_KINDS, Check, decide
from guichet.quality.packs import builtin_packs, parse_pack
from guichet.quality.plan import plan_checks
from guichet.quality.runner import drift_columns, flow_anomalies
from guichet.schema import parse_schema

AS_OF = dt.date(2024, 12, 31)
SCHEMA = parse_schema({"name": "T", "primaryKey": ["ID"], "fields": [
    {"name": "ID", "type": "integer", "constraints": {"required": True}},
    {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"},
    {"name": "COM", "type": "string", "nomenclature": "IR_GEO_V"},
    {"name": "CODE", "type": "string", "constraints": {"maxLength": 4, "minLength": 2, "pattern": "[A-Z]+"}},
    {"name": "KIND", "type": "string", "constraints": {"enum": ["a", "b"]}},
    {"name": "AGE", "type": "integer", "constraints": {"minimum": 0, "maximum": 120}},
    {"name": "BORN", "type": "year"},
    {"name": "WHEN", "type": "date"}]}, "test")


def _by_id(checks: list[Check]) -> dict[str, Check]:
    return {c.id: c for c in checks}


def test_checks_generated_from_a_table_schema() -> None:
    types = {"ID": "BIGINT", "SEX": "BIGINT", "COM": "VARCHAR", "CODE": "VARCHAR", "KIND": "VARCHAR", "AGE": "BIGINT",
             "BORN": "INTEGER", "WHEN": "VARCHAR"}
    got = _by_id(schema_checks("T", SCHEMA, types, as_of=AS_OF))
    assert got["T.not_null.ID"].category == "completeness" and got["T.not_null.ID"].severity == "warning"
    assert got["T.unique.ID"].kind == "unique" and got["T.unique.ID"].severity == "blocking"
    assert got["T.nomenclature.SEX"].params["numeric"] is True and got["T.nomenclature.SEX"].threshold == 5.0
    # an unshipped nomenclature is never invented: an info check marked unavailable, flagging no rows
    com = got["T.nomenclature.COM"]
    assert com.params["unavailable"] and com.severity == "info" and not com.flags_rows
    assert got["T.max_length.CODE"].params["length"] == 4 and got["T.min_length.CODE"].params["length"] == 2
    assert got["T.pattern.CODE"].params["pattern"] == "[A-Z]+"
    assert got["T.value_in.KIND"].params["values"] == ["a", "b"]
    assert (got["T.range.AGE"].params["min"], got["T.range.AGE"].params["max"]) == (0, 120)
    assert got["T.not_future.BORN"].params["as_of"] == AS_OF.isoformat()
    assert got["T.type.WHEN"].params["sql_type"] == "DATE"  # a date held in a text column
    assert "T.type.ID" not in got  # already typed


def test_columns_absent_from_the_table_get_no_check_and_no_key_no_duplicate_check() -> None:
    got = _by_id(schema_checks("T", SCHEMA, {"ID": "BIGINT"}, as_of=AS_OF))
    assert set(got) == {"T.not_null.ID", "T.unique.ID"}
    keyless = parse_schema({"name": "K", "fields": [{"name": "A", "type": "string"}]}, "k")
    planned = plan_checks("K", keyless, {"A": "VARCHAR"}, as_of=AS_OF, packs=[])
    assert [c.kind for c in planned if c.kind not in LEARNT_KINDS] == ["duplicate_row"]


def test_the_snds_pack_loads_and_binds_to_dataset_names() -> None:
    (pack,) = [p for p in builtin_packs() if p.name == "snds-core"]
    checks = _by_id(pack.checks_for("T_MCOaaC", "T_MCOaaC", as_of=AS_OF))
    assert checks["T_MCOaaC.stay_known"].params["ref"]["table"] == "T_MCOaaB"  # {stem}B
    care = _by_id(pack.checks_for("ER_PRS_F", "ER_PRS_F", as_of=AS_OF))
    assert care["ER_PRS_F.care_after_flow"].params["unit"] == "month"
    assert care["ER_PRS_F.care_after_death"].params["hospital"]["mode"] == "SOR_MOD"
    assert care["ER_PRS_F.information_only_rows"].severity == "info"


def _pack(rule: dict[str, Any]) -> dict[str, Any]:
    return {"pack": "p", "tables": {"T": [{"id": "r", "columns": ["A"], **rule}]}}


@pytest.mark.parametrize(("rule", "message"), [
    ({"kind": "nope"}, "kind 'nope' is not one of"),
    ({"kind": "not_null", "colour": 1}, "unknown key 'colour'"),
    ({"kind": "not_null", "category": "beauty"}, "category 'beauty'"),
    ({"kind": "not_null", "severity": "fatal"}, "severity 'fatal'"),
    ({"kind": "not_null", "threshold": 120}, "threshold is a percentage"),
    ({"kind": "value_in"}, "needs 'values'"),
    ({"kind": "value_in", "values": "a"}, "values must be a list"),
    ({"kind": "pattern", "pattern": "("}, "not a valid regular expression"),
    ({"kind": "date_order"}, "exactly 2 columns"),
    ({"kind": "range", "unit": "month"}, "unit (day or month) applies to date_order only"),
    ({"kind": "date_order", "columns": ["A", "B"], "unit": "week"}, "unit (day or month)"),
    ({"kind": "nomenclature"}, "needs 'reference'"),
    ({"kind": "condition", "sql": "A IN (SELECT x FROM secrets)"}, "is not allowed in a rule condition"),
    ({"kind": "condition", "sql": "other.A = 1"}, "columns of other tables are not allowed"),
    ({"kind": "condition", "sql": "A = ("}, "not a valid SQL expression"),
    ({"kind": "foreign_key", "ref": {"table": "P"}}, "ref needs 'table' and 'columns'"),
    ({"kind": "foreign_key", "ref": {"table": "P", "columns": ["X", "Y"]}}, "ref.columns must pair"),
    ({"kind": "after_death", "ref": {"table": "P", "columns": ["X"]}, "death": "D", "hospital": {"stays": "S"}},
     "hospital (after_death only) needs"),
])
def test_rule_pack_errors_are_one_line_naming_pack_table_and_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_pack(_pack(rule), "p.yaml")
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("p.yaml: table T rule 1")


def test_rule_pack_shape_and_duplicate_ids() -> None:
    with pytest.raises(BadInput, match="needs 'pack'"):
        parse_pack({"tables": {}}, "x.yaml")
    twice = {"pack": "p", "tables": {"T": [{"id": "r", "kind": "not_null", "columns": ["A"]}] * 2}}
    with pytest.raises(BadInput, match="rule id r is used twice"):
        parse_pack(twice, "x.yaml")
    with pytest.raises(BadInput, match="lower_snake_case"):
        parse_pack({"pack": "p", "tables": {"T": [{"id": "Bad-Id", "kind": "not_null", "columns": ["A"]}]}}, "x")


def test_decide_is_strictly_more_than_the_threshold() -> None:
    c = Check("t", "T", "not_null", "completeness", threshold=5.0)
    assert decide(c, 100, 5) == "pass" and decide(c, 100, 6) == "fail" and decide(c, 0, 0) == "pass"


def test_flow_anomalies_missing_halved_and_against_history() -> None:
    months = {f"2022-{m:02d}": 100 for m in range(1, 13)}
    assert flow_anomalies(months, {}, 0.5, 2.0) == []
    gap = dict(months)
    del gap["2022-04"]
    assert flow_anomalies(gap, {}, 0.5, 2.0) == [("2022-04", "no rows")]
    halved = months | {"2022-07": 40}
    assert [m for m, _ in flow_anomalies(halved, {}, 0.5, 2.0)] == ["2022-07"]
    assert [m for m, _ in flow_anomalies(months, {"2022-03": 300}, 0.5, 2.0)] == ["2022-03"]


def test_drift_on_means_medians_and_code_lengths() -> None:
    before = {"A": {"mean": 10.0, "median": 9.0, "length": 4.0}, "B": {"mean": 1.0, "median": 1.0, "length": 13.0}}
    assert drift_columns(before, before, 0.5) == []
    cents = {"A": {"mean": 1000.0, "median": 900.0, "length": 6.0}, "B": before["B"]}
    assert [n for n, _ in drift_columns(before, cents, 0.5)] == ["A"]
    shorter = {"B": {"mean": 1.0, "median": 1.0, "length": 7.0}}
    assert drift_columns(before, shorter, 0.5) == [("B", "length 13.0 -> 7.0")]
