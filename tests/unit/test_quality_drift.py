"""Over-time checks, pure parts: which feature each column gets, the two comparisons and their noise
allowances, columns that belong to their month, and rows per flow month at the edges of a period."""

from __future__ import annotations

import datetime as dt

from guichet.quality.compare import (
    Dist,
    as_digits,
    compare,
    expected_new,
    new_mass,
    period_bound,
    shift,
    variable_width_digits,
)
from guichet.quality.features import Pair, drift_checks, order_pairs, table_features
from guichet.quality.plan import plan_checks
from guichet.quality.volume import flow_anomalies
from guichet.schema import parse_schema

SCHEMA = parse_schema({"name": "T", "primaryKey": ["ID", "DAY"], "fields": [
    {"name": "ID", "type": "integer"},
    {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"},
    {"name": "ORG", "type": "string", "nomenclature": "IR_ORG_V"},
    {"name": "NIR", "type": "string"},
    {"name": "QTY", "type": "integer"},
    {"name": "BORN", "type": "year"},
    {"name": "AMT", "type": "number"},
    {"name": "BASE", "type": "number"},
    {"name": "DAY", "type": "date"},
    {"name": "END", "type": "date"}]}, "test")
TYPES = {"ID": "BIGINT", "SEX": "BIGINT", "ORG": "VARCHAR", "NIR": "VARCHAR", "QTY": "BIGINT", "BORN": "INTEGER",
         "AMT": "DOUBLE", "BASE": "DOUBLE", "DAY": "DATE", "END": "DATE", "_source_row": "BIGINT"}


def test_each_column_gets_the_feature_of_its_type_and_integer_keys_none() -> None:
    got = {(f.column, f.kind) for f in table_features(SCHEMA, TYPES)}
    assert got == {("SEX", "code"), ("ORG", "shape"), ("ORG", "code"), ("NIR", "shape"), ("QTY", "count"),
                   ("BORN", "magnitude"), ("AMT", "magnitude"), ("BASE", "magnitude"), ("DAY", "day"),
                   ("END", "day")}
    assert order_pairs(TYPES) == [Pair("DAY", "END", "day"), Pair("DAY", "END", "month"), Pair("AMT", "BASE")]
    assert order_pairs(TYPES, filled={"DAY", "AMT", "BASE"}) == [Pair("AMT", "BASE")]  # END has no value


def test_drift_checks_are_warnings_per_column_and_one_order_check_with_the_flow_month() -> None:
    checks = drift_checks("T", SCHEMA, TYPES, "DAY")
    assert all(c.severity == "warning" and not c.flags_rows for c in checks if c.kind != "row_count")
    assert [c.severity for c in checks if c.kind == "row_count"] == ["blocking"]  # an empty version, certain
    assert [c.id for c in checks if c.kind == "order_drift"] == ["T.order_drift"]
    org = next(c for c in checks if c.id == "T.column_drift.ORG")
    assert org.params == {"features": ["shape", "code"], "period": "DAY"}
    assert "T.column_drift.ID" not in {c.id for c in checks}


def test_the_flow_month_comes_from_the_packs_flow_volume_rule() -> None:
    types = {"FLX_DIS_DTD": "DATE", "EXE_SOI_DTD": "DATE", "PRS_PAI_MNT": "DOUBLE"}
    checks = plan_checks("ER_PRS_F", None, types, as_of=dt.date(2024, 12, 31))
    drift = [c for c in checks if c.kind in ("column_drift", "order_drift")]
    assert drift and {c.params["period"] for c in drift} == {"FLX_DIS_DTD"}
    other = plan_checks("X", None, types, as_of=dt.date(2024, 12, 31))
    assert {c.params["period"] for c in other if c.kind == "column_drift"} == {None}


def test_an_empty_version_after_one_with_rows_blocks() -> None:
    from guichet.quality.overtime import row_count

    check = next(c for c in drift_checks("T", SCHEMA, TYPES, None) if c.kind == "row_count")
    assert row_count(check, 0, {"rows": 2000}).blocking_failed
    assert row_count(check, 0, {}).status == "pass"  # a first, empty delivery: nothing to compare
    assert row_count(check, 10, {"rows": 2000}).status == "pass"  # fewer rows: rows per flow month says


def test_a_new_shape_is_found_but_the_expected_unseen_mass_is_allowed() -> None:
    before = Dist({"999999999": 5000})
    lost_zero = Dist({"99999999": 4900, "999999999": 100})
    assert abs(new_mass(before, lost_zero).mass - (0.98 - 4 / 5000)) < 1e-9  # what 5,000 rows could have hidden
    assert [f.what for f in compare(before, lost_zero)] == ["new", "shift"]
    # ten categories seen once in 1,000 rows: about 1 % of new rows fall in unseen categories by chance
    tail = Dist({**{f"c{i}": 1 for i in range(10)}, "a": 990}, distinct=11, singletons=10)
    assert abs(expected_new(tail) - 0.02) < 1e-9  # 1 % unseen (Good-Turing) + 1 % in rare categories
    assert compare(tail, Dist({**{f"d{i}": 3 for i in range(10)}, "a": 970})) == []
    assert [f.what for f in compare(tail, Dist({**{f"d{i}": 10 for i in range(10)}, "a": 900}))] == ["new"]


def test_rare_before_counts_as_new_and_small_samples_are_not_flagged() -> None:
    before = Dist({"<": 9990, "=": 10})
    assert [f.what for f in compare(before, Dist({"<": 900, "=": 100}))] == ["new"]
    assert compare(before, Dist({"<": 9, "=": 1})) == []  # 10 % of 10 rows: one row
    # none of 60 earlier rows was on the 1st of a month; 5 % of 240 rows now is within what 60 rows can miss
    assert compare(Dist({"other": 58, "last": 2}), Dist({"other": 224, "first": 12, "last": 4})) == []


def test_shift_needs_a_quarter_of_rows_and_more_than_sampling_noise() -> None:
    before = Dist({"1": 5200, "2": 4800})
    swapped = Dist({"1": 4800, "2": 5200})
    assert shift(before, swapped)[0] < 0.25 and compare(before, swapped) == []
    rank_as_sex = Dist({"1": 9900, "2": 100})
    distance, noise = shift(before, rank_as_sex)
    assert distance > 0.4 > noise
    assert [f.what for f in compare(before, rank_as_sex)] == ["shift"]
    _, small_noise = shift(Dist({"1": 30, "2": 30}), Dist({"1": 50, "2": 10}))
    assert small_noise > 0.3


def test_values_that_belong_to_their_month_make_a_column_period_bound() -> None:
    emission = {f"2022-{m:02d}": Dist({str(260 + m): 100}) for m in range(1, 13)}
    assert period_bound(emission)
    sexes = {f"2022-{m:02d}": Dist({"1": 50, "2": 50}) for m in range(1, 13)}
    assert not period_bound(sexes)
    assert not period_bound(dict(list(emission.items())[:3]))  # too few months to tell


def test_flow_months_ramp_up_and_tail_are_not_anomalies_but_gaps_and_cuts_are() -> None:
    ramp = {"2022-01": 560, "2022-02": 1360, "2022-03": 1440, "2022-04": 1500, "2022-05": 1490}
    tail = {"2023-01": 1640, "2023-02": 1020, "2023-03": 310, "2023-04": 170, "2023-05": 100, "2023-06": 70,
            "2023-07": 40, "2023-08": 37, "2023-09": 20, "2023-10": 30, "2023-11": 9, "2023-12": 5}
    assert flow_anomalies(ramp | tail, {}, 0.5, 2.0) == []
    spike = ramp | {"2022-03": 3300}
    assert [m for m, _ in flow_anomalies(spike, {}, 0.5, 2.0)] == ["2022-03"]
    tiny_gap = tail | {"2024-01": 4, "2024-02": 0, "2024-03": 3}
    del tiny_gap["2024-02"]
    assert flow_anomalies(tiny_gap, {}, 0.5, 2.0) == []  # a month of a few rows may be empty
    gap = dict(tail)
    del gap["2023-09"]  # neighbours of 37 and 30 rows: not by chance
    assert flow_anomalies(gap, {}, 0.5, 2.0) == [("2023-09", "no rows")]
    cut = {m: n for m, n in (ramp | tail).items() if m < "2023-01"}
    missing = [m for m, why in flow_anomalies(cut, ramp | tail, 0.5, 2.0)]
    assert missing == [f"2023-{m:02d}" for m in range(1, 11)]  # not the last two: under 20 rows before


def test_numbers_written_as_text_are_compared_whatever_their_width() -> None:
    from guichet.quality.overtime import drift_findings

    sequence = Dist({"9": 9, "99": 90})
    assert variable_width_digits(sequence) and not variable_width_digits(Dist({"999": 5, "99A": 1}))
    assert as_digits(Dist({"9": 1, "99": 2, "L12": 3, "99A": 4})).counts == {"digits": 3, "L12": 3, "99A": 4}
    grown = Dist({"99": 300, "999": 700})  # a larger delivery: more stays, longer numbers
    assert drift_findings({"all": grown.to_json()}, {"all": sequence.to_json()}, kind="shape") == []
    padded = Dist({"999": 5000})  # a fixed-width code losing a digit is still a new shape
    assert drift_findings({"all": Dist({"99": 5000}).to_json()}, {"all": padded.to_json()}, kind="shape")
