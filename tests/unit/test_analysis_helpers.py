"""The statistics helpers write their output and a sidecar recording what each cell was computed from."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pytest

from guichet.analysis import attach_figure, crosstab, describe, histogram, pivot, regression, survival_table
from guichet.analysis.metadata import meta_path, read_persons, sha256
from guichet.errors import BadInput
from tests.airlock_support import people

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data() -> pa.Table:
    return people(300, seed=3)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def meta(path: Path) -> dict:
    return json.loads(meta_path(path).read_text(encoding="utf-8"))


def test_crosstab_counts_persons_with_margins_and_lists_them(data: pa.Table, tmp_path: Path) -> None:
    out = crosstab(data, "sex", "age_band", out=tmp_path / "t.csv")
    table = rows(out)
    assert [r["sex"] for r in table] == ["F", "M", "Total"]
    sexes = data.column("sex").to_pylist()
    ages = data.column("age_band").to_pylist()
    assert int(table[0]["18-39"]) == sum(1 for s, a in zip(sexes, ages, strict=True) if s == "F" and a == "18-39")
    assert int(table[2]["Total"]) == data.num_rows
    m = meta(out)
    assert m["format"] == "guichet.analysis/1" and m["helper"] == "crosstab" and m["sha256"] == sha256(out)
    assert m["parameters"]["rows"] == ["sex"] and "GROUPING SETS" in m["code"]
    persons = read_persons(out)
    for k, cell in enumerate(m["cells"]):
        assert len(persons.get(k, [])) == cell["persons"]
        assert cell["value"] == cell["persons"]
    grand = next(k for k, c in enumerate(m["cells"]) if c["key"] == ["Total", "Total"])
    assert sorted(persons[grand]) == sorted(data.column("PERSON_ID").to_pylist())


def test_magnitude_cells_carry_the_largest_contributions(tmp_path: Path) -> None:
    t = pa.table({"PERSON_ID": ["a", "a", "b", "c"], "g": ["x"] * 4, "cost": [10.0, 5.0, 3.0, 1.0]})
    out = pivot(t, "g", values="cost", agg="mean", out=tmp_path / "m.csv", margins=False)
    [cell] = meta(out)["cells"]
    assert cell["persons"] == 3 and cell["records"] == 4
    assert cell["top"] == [15.0, 3.0] and cell["total"] == 19.0  # per person: a's two records add up
    assert cell["value"] == pytest.approx(19.0 / 4)


def test_sql_source_and_long_layout(tmp_path: Path) -> None:
    import duckdb
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'p' || i AS PERSON_ID, i % 2 AS a, i % 3 AS b, i % 5 AS c "
                "FROM range(90) r(i)")
    out = crosstab("SELECT * FROM t", ["a", "b", "c"], out=tmp_path / "l.csv", con=con)
    m = meta(out)
    assert m["layout"] == "long" and not m["margins"] and len(rows(out)) == 30
    assert m["source"] == "SELECT * FROM t"


def test_describe_leaves_out_exact_extremes_unless_asked(data: pa.Table, tmp_path: Path) -> None:
    out = describe(data, "cost", by="sex", out=tmp_path / "d.csv")
    assert "min" not in rows(out)[0] and rows(out)[0]["n"]
    out2 = describe(data, "cost", out=tmp_path / "d2.csv", extremes=True)
    assert float(rows(out2)[0]["max"]) == max(data.column("cost").to_pylist())


def test_histogram_edges_are_rounded_outward(data: pa.Table, tmp_path: Path) -> None:
    out = histogram(data, "cost", out=tmp_path / "h.csv", bins=8)
    m = meta(out)
    costs = data.column("cost").to_pylist()
    assert m["extra"]["edges"][0] < min(costs) and m["extra"]["edges"][-1] > max(costs)
    assert not m["extra"]["edges_at_extremes"]
    assert sum(int(r["count"]) for r in rows(out)) == len(costs)


def test_survival_table_counts_and_kaplan_meier(tmp_path: Path) -> None:
    t = pa.table({"PERSON_ID": ["a", "b", "c", "d"], "t": [1, 2, 2, 3], "e": [1, 0, 1, 1]})
    out = survival_table(t, "t", "e", out=tmp_path / "s.csv")
    r = rows(out)
    assert [(x["at_risk"], x["events"], x["censored"]) for x in r] == [("4", "1", "0"), ("3", "1", "1"),
                                                                       ("1", "1", "0")]
    assert float(r[1]["survival"]) == pytest.approx(0.75 * (2 / 3), abs=1e-6)


def test_regression_records_degrees_of_freedom(data: pa.Table, tmp_path: Path) -> None:
    out = regression(data, "cost", ["time"], out=tmp_path / "r.csv")
    m = meta(out)
    assert m["dof"] == data.num_rows - 2 and [r["term"] for r in rows(out)] == ["const", "time"]
    assert len(read_persons(out)[-1]) == data.num_rows


def test_figure_needs_a_helper_table(data: pa.Table, tmp_path: Path) -> None:
    table = histogram(data, "cost", out=tmp_path / "h.csv")
    fig = tmp_path / "h.png"
    fig.write_bytes(b"\x89PNG\r\n\x1a\n")
    attach_figure(fig, table)
    assert json.loads(meta_path(fig).read_text())["table_sha256"] == sha256(table)
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,2\n")
    with pytest.raises(BadInput):
        attach_figure(fig, plain)


def test_unknown_column_is_bad_input(data: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="nope"):
        crosstab(data, "nope", out=tmp_path / "x.csv")


def test_logistic_regression_uses_the_analysis_extra(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels", reason="statsmodels is the analysis extra")
    import numpy as np

    rng = np.random.default_rng(8)
    x = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-(0.5 + 1.5 * x)))).astype(float)
    t = pa.table({"PERSON_ID": [f"p{i}" for i in range(400)], "x": x.tolist(), "y": y.tolist()})
    out = regression(t, "y", ["x"], kind="logit", out=tmp_path / "logit.csv")
    coef = {r["term"]: float(r["coef"]) for r in rows(out)}
    assert 0.9 < coef["x"] < 2.1 and meta(out)["parameters"]["kind"] == "logit" and meta(out)["dof"] == 398
