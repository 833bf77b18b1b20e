"""Defect types ``synth`` does not produce, injected into a clean claims table: generic checks must flag
at least 3 of 5 (issue "Quality", targets). Caught = a warning or blocking check that passed on the clean
table fails on the injected one, or flags more rows than it did.

The clean table is a synthetic ER_PRS_F without defects, typed by its Table Schema exactly as the deposit
types it (``guichet.quality.source.csv_table``); the clean run's profile is the history the injected run
is compared with, as for a new version of a dataset.

Below, the 23 defect types of ``tests/unseen_defects.py`` (written before the checks that catch them) are
injected into another clean delivery (another seed: a re-delivery of the same period) and compared with a
first one; ``benchmarks/quality_unseen.py`` scores them at several sizes and seeds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from guichet.engine import Engine
from guichet.quality.model import RunOutcome
from guichet.quality.plan import plan_checks
from guichet.quality.runner import Runner, TableSource, column_types
from guichet.quality.source import csv_table
from guichet.schema import load_schema
from tests.conftest import run_cli
from tests.unseen_defects import DEFECTS, inject

AS_OF = dt.date(2024, 12, 31)
INJECTIONS = {
    "swapped_columns": "SELECT * REPLACE (PRS_ACT_QTE AS PRS_PAI_MNT, PRS_PAI_MNT AS PRS_ACT_QTE) FROM clean",
    "amounts_in_cents": "SELECT * REPLACE (PRS_PAI_MNT * 100 AS PRS_PAI_MNT, BSE_REM_MNT * 100 AS BSE_REM_MNT) FROM clean",
    "one_flow_month_shifted_a_year": ("SELECT * REPLACE (CASE WHEN date_trunc('month', FLX_DIS_DTD) = DATE '2022-06-01' "
                                      "THEN (FLX_DIS_DTD + INTERVAL 1 YEAR)::DATE ELSE FLX_DIS_DTD END AS FLX_DIS_DTD) "
                                      "FROM clean"),
    "truncated_codes": "SELECT * REPLACE (PRS_NAT_REF // 10 AS PRS_NAT_REF) FROM clean",
    # IR_NAT_V codes of another version: codes this version does not list (the 9xxx block is not issued)
    "code_of_another_version": ("SELECT * REPLACE (CASE WHEN _source_row % 5 = 0 THEN 9000 + _source_row % 7 "
                                "ELSE PRS_NAT_REF END AS PRS_NAT_REF) FROM clean"),
}


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("unseen") / "delivery"
    res = run_cli(["synth", "--persons", "400", "--start", "2022-01-01", "--end", "2022-12-31", "--seed", "3",
                   "--out", str(out), "--defect-rate", "0"])
    assert res.code == 0, res.stderr
    return out / "ER_PRS_F.csv", out / "schemas" / "clear" / "ER_PRS_F.json"


def _run(engine: Engine, view: str, schema: Any, history: dict[str, Any]) -> RunOutcome:
    src = TableSource("ER_PRS_F", 2 if history else 1, view, schema, column_types(engine, view))
    checks = plan_checks("ER_PRS_F", schema, src.column_types, as_of=AS_OF, datasets=set())
    return Runner(engine).run(src, checks, history=history)


def _flagged(clean: RunOutcome, dirty: RunOutcome) -> list[str]:
    before = {r.id: r for r in clean.results}
    out = []
    for r in dirty.results:
        b = before[r.id]
        if r.severity == "info" or r.status == "not_applicable":
            continue
        if (r.status == "fail" and b.status != "fail") or r.rows_failing > b.rows_failing:
            out.append(r.id)
    return out


def test_generic_checks_flag_at_least_three_of_five_unseen_defects(claims: tuple[Path, Path]) -> None:
    path, schema_path = claims
    schema = load_schema(schema_path)
    with Engine() as engine:
        csv_table(engine, path, schema, name="clean", dataset="ER_PRS_F")
        clean = _run(engine, "clean", schema, {})
        assert not [r.id for r in clean.results if r.blocking_failed]  # a clean delivery passes
        history = dict(clean.profile)
        assert history.get("numeric") and history.get("months")
        caught: dict[str, list[str]] = {}
        for name, sql in INJECTIONS.items():
            engine.con.execute(f"CREATE OR REPLACE TEMP TABLE injected AS {sql}")
            caught[name] = _flagged(clean, _run(engine, "injected", schema, history))
    # what catches what (reported in docs/quality.md)
    assert any("distribution_drift" in c for c in caught["swapped_columns"])
    assert any("distribution_drift" in c for c in caught["amounts_in_cents"])
    assert any("rows_per_flow_month" in c for c in caught["one_flow_month_shifted_a_year"])
    assert any("nomenclature.PRS_NAT_REF" in c for c in caught["truncated_codes"])
    assert any("nomenclature.PRS_NAT_REF" in c for c in caught["code_of_another_version"])
    assert sum(1 for v in caught.values() if v) >= 3


# -- defect types of a producer's new extraction job (tests/unseen_defects.py), against a previous version ------

KNOWN_MISSES = {
    # care dates one month early keep every order a row had (care before its flow month); only the lag between
    # care and flow moves, and that lag depends on the period a delivery covers (docs/quality.md)
    "care_dates_one_month_early",
}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("versions")
    for name, seed in (("A", 13), ("B", 1013)):
        res = run_cli(["synth", "--persons", "400", "--start", "2022-01-01", "--end", "2022-12-31", "--seed",
                       str(seed), "--out", str(root / name), "--defect-rate", "0"])
        assert res.code == 0, res.stderr
    return root / "A", root / "B"


def _checked(engine: Engine, folder: Path, table: str, history: dict[str, Any], csv: Path | None = None) -> RunOutcome:
    schemas = folder / "schemas" / "clear"
    view = f"v_{abs(hash((str(folder), table, str(csv)))) % 10**8}"
    src = csv_table(engine, csv or folder / f"{table}.csv", load_schema(schemas / f"{table}.json"), name=view,
                    dataset=table)
    refs = {}
    if table == "ER_PHA_F":  # pharmacy lines are checked against the claims delivered with them
        refs["ER_PRS_F"] = csv_table(engine, folder / "ER_PRS_F.csv", load_schema(schemas / "ER_PRS_F.json"),
                                     name=f"{view}_p", dataset="ER_PRS_F")
    src = TableSource(table, 2 if history else 1, view, src.schema, src.column_types)
    checks = plan_checks(table, src.schema, src.column_types, as_of=AS_OF, datasets=set(refs))
    return Runner(engine).run(src, checks, refs=refs, history=history)


def _failing(outcome: RunOutcome) -> set[str]:
    return {r.id for r in outcome.results if r.status == "fail" and r.severity != "info"}


def test_a_clean_redelivery_fails_no_check_and_unseen_defect_types_are_caught(versions: tuple[Path, Path],
                                                                               tmp_path: Path) -> None:
    first, again = versions
    caught: dict[str, set[str]] = {}
    with Engine() as engine:
        for table in ("ER_PRS_F", "ER_PHA_F"):
            earlier = _checked(engine, first, table, {})
            assert _failing(earlier) == set()  # a first delivery: flow months against each other only
            history = dict(earlier.profile)
            clean = _checked(engine, again, table, history)
            assert _failing(clean) == set(), [r.note for r in clean.results if r.status == "fail"]
            for d in [d for d in DEFECTS.values() if d.table == table]:
                inject(d, again / f"{table}.csv", tmp_path / f"{d.name}.csv")
                caught[d.name] = _failing(_checked(engine, again, table, history, tmp_path / f"{d.name}.csv"))
    missed = {name for name, checks in caught.items() if not checks}
    assert missed <= KNOWN_MISSES, f"unseen defects no check caught: {sorted(missed - KNOWN_MISSES)}"
    # what the generic checks added: without them these would pass (docs/quality.md)
    assert "ER_PRS_F.column_drift.ORG_CLE_NUM" in caught["org_code_leading_zero_lost"]
    assert "ER_PRS_F.column_drift.PSE_SPE_COD" in caught["empty_specialty_as_zero"]
    assert "ER_PRS_F.column_drift.EXE_SOI_DTF" in caught["care_end_not_extracted"]
    assert "ER_PRS_F.order_drift" in caught["base_amount_copied_from_paid"]
    assert caught["rank_and_sex_swapped"] >= {"ER_PRS_F.column_drift.BEN_SEX_COD", "ER_PRS_F.column_drift.BEN_RNG_GEM"}
    assert "ER_PRS_F.column_drift.FLX_DIS_DTD" in caught["flow_month_as_last_day"]
    assert "ER_PRS_F.rows_per_flow_month" in caught["flow_months_cut_short"]
