"""The airlock's per-cell verdicts: rule sets, plain CSVs, margins, identifiers, suppressed copies, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from guichet.airlock.check import check_file, write_suppressed
from guichet.airlock.rules import RISKS, load, names
from guichet.analysis import crosstab
from guichet.cli.main import cli
from guichet.errors import BadInput
from tests.airlock_support import people

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def verdicts(result) -> dict[tuple[int, str], tuple[str, list[str]]]:
    return {(c.row, c.column): (c.verdict, c.reasons) for c in result.cells}


def test_rule_sets_and_risks_are_complete() -> None:
    snds = load("snds")
    assert (snds.threshold, snds.dominance_n, snds.dominance_k, snds.p_percent, snds.min_dof) == (11, 2, 0.9, 0.1, 10)
    assert load("snds", {"disclosure_threshold": 20}).threshold == 20  # the catalogue's property
    assert "snds" in names()
    for _name, en, fr in RISKS.values():
        assert en and fr and en != fr
    with pytest.raises(BadInput):
        load("nope")


def test_plain_csv_is_at_best_review_and_fails_small_cells(tmp_path: Path) -> None:
    r = check_file(write(tmp_path / "a.csv", "region,count\nARA,120\nBRE,45\n"))
    assert r.status == "review" and not r.metadata
    assert all(c.verdict == "review" and "no-metadata" in c.reasons for c in r.cells)
    r = check_file(write(tmp_path / "b.csv", "region;count\nARA;120\nBRE;4\nIDF;0\n"))
    v = verdicts(r)
    assert r.status == "fail" and v[(2, "count")] == ("fail", ["threshold"])
    assert v[(3, "count")][0] == "review" and "zero" in v[(3, "count")][1]


@pytest.mark.parametrize("label", ["Total", "ALL", "ensemble"])
def test_plain_margins_by_label_trigger_secondary_suppression(tmp_path: Path, label: str) -> None:
    r = check_file(write(tmp_path / "m.csv", f"region,n\nARA,120\nBRE,5\nIDF,60\n{label},185\n"))
    v = verdicts(r)
    assert v[(2, "n")] == ("fail", ["threshold"]) and v[(3, "n")] == ("fail", ["secondary"])
    assert r.suppression["secondary"] == 1


def test_plain_margins_by_sum(tmp_path: Path) -> None:
    r = check_file(write(tmp_path / "s.csv", "sex,a,b,c,all_ages\nF,82,56,8,146\nM,82,61,11,154\n"
                                              "X,164,117,19,300\n"))
    assert r.suppression["secondary"] >= 3  # the last row and column are sums: margins
    assert "secondary" in {x for c in r.cells for x in c.reasons}


@pytest.mark.parametrize(("header", "value"), [
    ("who", "ABCDEFGHIJKLMNOPQ"),  # a pseudonym of letters only
    ("who", "AB2DE3GHIJ4LMNOPQ"),
    ("who", "185057512345673"),  # a NIR with its key
    ("PERSON_ID", "x"),
    ("FLX_EMT_NUM", "x"),
])
def test_identifier_columns_fail(tmp_path: Path, header: str, value: str) -> None:
    r = check_file(write(tmp_path / "i.csv", f"{header},n\n{value},50\nother,60\n"))
    assert r.status == "fail" and "identifier" in r.reasons
    assert verdicts(r)[(1, header)][0] == "fail"


def test_distinct_values_in_a_long_plain_table_fail(tmp_path: Path) -> None:
    body = "".join(f"case{i},{20 + i}\n" for i in range(60))
    r = check_file(write(tmp_path / "d.csv", "code,n\n" + body))
    assert "identifier" in r.reasons


def test_helper_table_passes_then_fails_once_altered(tmp_path: Path) -> None:
    out = crosstab(people(400, seed=1, rare=0.1), "sex", "region", out=tmp_path / "ok.csv")
    r = check_file(out)
    assert r.status == "pass" and r.metadata and r.cells and all(c.verdict == "pass" for c in r.cells)
    out.write_text(out.read_text().replace("Total", "Total "), encoding="utf-8")
    r = check_file(out)
    assert r.status == "review" and "altered" in r.reasons and not r.metadata


def test_suppressed_copy_of_a_helper_table_can_pass(tmp_path: Path) -> None:
    out = crosstab(people(300, seed=1, rare=0.03), "sex", "age_band", out=tmp_path / "t.csv")
    first = check_file(out)
    assert first.status == "fail" and first.suppression["secondary"] >= 1
    released = write_suppressed(out, tmp_path / "t_released.csv")
    assert released.status == "pass"
    withheld = {(c.row, c.column) for c in released.cells if "suppressed" in c.reasons}
    assert withheld == {(c.row, c.column) for c in first.cells if c.verdict == "fail"}
    # The differencing ledger records the released cells only, never the persons of a withheld one.
    from guichet.airlock.ledger import output_cells
    from guichet.analysis import metadata as md

    meta = md.read(tmp_path / "t_released.csv")
    assert meta is not None
    kept = output_cells(tmp_path / "t_released.csv")
    assert kept is not None
    recorded = {(meta["cells"][i]["row"], meta["cells"][i]["column"]) for i, _, _ in kept[1]}
    assert recorded and not recorded & withheld
    assert len(recorded) == len([c for c in meta["cells"] if c.get("persons")]) - len(withheld)
    # Putting a withheld value back is caught.
    text = (tmp_path / "t_released.csv").read_text()
    (tmp_path / "t_released.csv").write_text(text.replace(",,", ",3,", 1))
    assert check_file(tmp_path / "t_released.csv").status != "pass"


def test_three_dimensions_go_to_review(tmp_path: Path) -> None:
    out = crosstab(people(200, seed=2, rare=0.03), ["sex", "age_band", "region"], out=tmp_path / "c.csv")
    r = check_file(out)
    assert "suppression-review" in r.reasons
    assert {c.verdict for c in r.cells} <= {"fail", "review"}


def test_figure_without_its_table_fails(tmp_path: Path) -> None:
    fig = tmp_path / "f.png"
    fig.write_bytes(b"\x89PNG\r\n\x1a\n")
    r = check_file(fig)
    assert r.status == "fail" and r.reasons == ["figure-without-table"]


def test_cli_check_json_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = crosstab(people(400, seed=1), "sex", out=tmp_path / "ok.csv")
    res = runner.invoke(cli, ["airlock", "check", str(ok), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["status"] == "pass"
    bad = write(tmp_path / "bad.csv", "g,n\na,3\nb,50\n")
    res = runner.invoke(cli, ["airlock", "check", str(bad), "--json", "--rules", "snds"])
    answer = json.loads(res.output)
    assert res.exit_code == 1 and answer["status"] == "fail"
    assert {"row": 1, "column": "n", "verdict": "fail", "reasons": ["threshold"]} in answer["cells"]


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    from guichet.cli.main import main
    with pytest.raises(SystemExit) as exc:
        main(["airlock", "check", str(tmp_path / "missing.csv")])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["airlock", "check", str(write(tmp_path / "x.parquet", "PAR1"))])
    assert exc.value.code == 2


def test_a_first_column_of_ages_or_years_is_a_dimension(tmp_path: Path) -> None:
    r = check_file(write(tmp_path / "ages.csv", "age,n\n" + "".join(f"{a},{30 + a}\n" for a in range(0, 12))))
    assert r.status == "review" and {c.column for c in r.cells} == {"n"}
    r = check_file(write(tmp_path / "years.csv", "annee_soins,F,M\n2019,40,3\n2020,41,52\n2021,39,50\n"))
    assert {c.column for c in r.cells} == {"F", "M"} and r.status == "fail"
    r = check_file(write(tmp_path / "counts.csv", "a,b\n4,50\n40,60\n12,70\n"))  # uneven: counts
    assert any(c.column == "a" and c.verdict == "fail" for c in r.cells)


def test_one_dimensional_helper_table_gets_a_secondary_cell_not_its_total(tmp_path: Path) -> None:
    out = crosstab(people(300, seed=1, rare=0.03), "age_band", out=tmp_path / "one.csv")
    r = check_file(out)
    v = verdicts(r)
    primary = [k for k, (verdict, reasons) in v.items() if reasons == ["threshold"]]
    secondary = [k for k, (verdict, reasons) in v.items() if reasons == ["secondary"]]
    assert len(primary) == 1 and len(secondary) == 1
    assert secondary[0][0] != 5  # the Total row (5th) stays released


def test_sum_tables_are_suppressed_like_counts(tmp_path: Path) -> None:
    out = crosstab(people(300, seed=1, rare=0.03), "sex", "age_band", values="cost", agg="sum",
                   out=tmp_path / "sum.csv")
    r = check_file(out)
    assert r.suppression["method"] == "cycles" and r.suppression["secondary"] >= 1
    assert write_suppressed(out, tmp_path / "sum_released.csv").status == "pass"


def test_a_figure_is_checked_through_its_table(tmp_path: Path) -> None:
    from guichet.analysis import attach_figure, histogram

    table = histogram(people(400, seed=2), "cost", out=tmp_path / "costs.csv", edges=[0, 250, 500, 5000])
    fig = tmp_path / "costs.svg"
    fig.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    attach_figure(fig, table)
    r = check_file(fig)
    assert r.kind == "figure" and r.file == "costs.svg" and r.status == check_file(table).status
    assert any("checked through its table costs.csv" in n for n in r.notes)
    table.write_text(table.read_text() + "\n", encoding="utf-8")  # the table changed after the figure
    assert check_file(fig).reasons == ["figure-without-table"]


def test_subtotals_without_a_provable_system_go_to_review(tmp_path: Path) -> None:
    text = "region,dept,n\nARA,01,40\nARA,03,\nARA,Total,45\nBRE,22,30\nBRE,Total,30\nAll,All,75\n"
    r = check_file(write(tmp_path / "sub.csv", text))
    assert "suppression-review" in r.reasons
