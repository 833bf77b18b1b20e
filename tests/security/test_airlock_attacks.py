"""The classic disclosure attacks on statistical outputs, each caught by the airlock's automatic check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from guichet.airlock.check import check_file
from guichet.analysis import crosstab, histogram, pivot, regression, survival_table
from tests.airlock_support import people

pytestmark = pytest.mark.security


def reasons(result) -> set[str]:
    return {r for c in result.cells for r in c.reasons} | set(result.reasons)


def test_a_total_that_reveals_a_withheld_cell(tmp_path: Path) -> None:
    # The researcher blanked the small cell but kept the totals: 146 - 82 - 56 = 8.
    table = tmp_path / "by_age.csv"
    table.write_text("sex,a,b,c,Total\nF,82,56,,146\nM,82,61,11,154\nTotal,164,117,19,300\n", encoding="utf-8")
    r = check_file(table)
    assert r.status == "fail"
    assert "secondary" in reasons(r)
    assert r.suppression["withheld"] == 1 and r.suppression["secondary"] >= 3


def test_a_regression_on_a_handful_of_people(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    t = pa.table({"PERSON_ID": [f"p{i}" for i in range(8)], "x": rng.normal(size=8).tolist(),
                  "y": rng.normal(size=8).tolist()})
    r = check_file(regression(t, "y", ["x"], out=tmp_path / "model.csv"))
    assert r.status == "fail"
    assert all(c.verdict == "fail" and "dof" in c.reasons and "threshold" in c.reasons for c in r.cells)


def test_a_histogram_with_a_bin_of_one(tmp_path: Path) -> None:
    t = pa.table({"PERSON_ID": [f"p{i}" for i in range(101)],
                  "age": [40.0 + (i % 20) for i in range(100)] + [97.0]})  # one very old person
    r = check_file(histogram(t, "age", out=tmp_path / "ages.csv", edges=[0, 20, 40, 60, 80, 100]))
    lone = [c for c in r.cells if c.verdict == "fail"]
    assert r.status == "fail" and [(c.row, c.reasons) for c in lone] == [(5, ["threshold"])]
    # The empty bins are zeros: a checker reviews them, they do not pass silently.
    assert {c.verdict for c in r.cells if c.row in (1, 2, 4)} == {"review"}


def test_a_table_of_means_with_a_dominant_contributor(tmp_path: Path) -> None:
    data = people(400, seed=5)
    costs = data.column("cost").to_pylist()
    regions = data.column("region").to_pylist()
    first_bre = regions.index("BRE")
    costs[first_bre] = 1_000_000.0  # one person's cost makes the region's mean
    data = data.set_column(data.column_names.index("cost"), "cost", pa.array(costs))
    r = check_file(pivot(data, "region", values="cost", agg="mean", out=tmp_path / "means.csv"))
    failing = {(c.row, c.column): c.reasons for c in r.cells if c.verdict == "fail"}
    assert r.status == "fail"
    assert {"dominance", "p-percent"} <= set(failing[(3, "mean_cost")])  # BRE is the third row
    # The overall mean, with the other regions' means and counts, would give BRE's back: a checker reviews it.
    total = next(c for c in r.cells if c.row == 5)
    assert total.verdict != "pass" and total.reasons


def test_a_survival_table_whose_steps_reveal_single_events(tmp_path: Path) -> None:
    data = people(600, seed=6)
    r = check_file(survival_table(data, "time", "event", out=tmp_path / "km.csv"))
    steps = [c for c in r.cells if "survival-step" in c.reasons]
    assert r.status == "fail" and steps
    assert {c.column for c in steps} >= {"events", "survival"}
    # Grouped into 15-unit intervals, each step gathers enough events and the table passes.
    grouped = check_file(survival_table(data, "time", "event", interval=15, out=tmp_path / "km10.csv"))
    assert grouped.status == "pass", grouped.to_dict()


def test_a_mean_over_identical_values_tells_everyone_s_value(tmp_path: Path) -> None:
    t = pa.table({"PERSON_ID": [f"p{i}" for i in range(30)], "g": ["x"] * 30, "dose": [5.0] * 30})
    r = check_file(crosstab(t, "g", values="dose", agg="mean", out=tmp_path / "dose.csv", margins=False))
    assert r.status == "fail" and "uniform" in reasons(r)


def test_exact_extremes_fail(tmp_path: Path) -> None:
    r = check_file(pivot(people(300, seed=7), "sex", values="cost", agg="max", out=tmp_path / "max.csv"))
    assert r.status == "fail" and "extreme" in reasons(r)
