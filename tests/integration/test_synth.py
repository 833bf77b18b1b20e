"""``guichet synth`` end to end: files, manifest, truth, defects, conformance, determinism, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from guichet.synth import nir
from guichet.synth.manifest import json_schema
from tests.conftest import NOMENCLATURES, drug_reference, run_cli

NOM = NOMENCLATURES
START, END = dt.date(2022, 1, 1), dt.date(2023, 12, 31)
ARGS = ["--persons", "3000", "--start", START.isoformat(), "--end", END.isoformat(), "--seed", "99",
        "--defect-rate", "0.03", "--plant", "coding_gap:84"]
NIR_COLUMNS = ("BEN_NIR_OUV", "BEN_NIR")
DATE_FORMATS = {"default": "%Y-%m-%d", "%d%m%Y": "%d%m%Y", "%m": "%m"}


def _codes(path: Path, column: str) -> set[str]:
    with path.open(encoding="utf-8") as f:
        return {r[column] for r in csv.DictReader(f, delimiter=";")}


NOMENCLATURE_OF = {
    "DGN_PAL": "MS_CIM_V", "ASS_DGN": "MS_CIM_V", "MED_MTF_COD": "IR_CIM_V", "DCD_CIM_COD": "IR_CIM_V",
    "ECD_CIM_COD": "IR_CIM_V", "PRS_NAT_REF": "IR_NAT_V", "BEN_RES_DPT": "IR_DPT_V", "DCD_DPT_COD": "IR_DPT_V",
    "BEN_CDI_NIR": "IR_NIR_V", "IMB_ALD_NUM": "IR_ALD_V", "DCD_LIE_COD": "DS_LIE_V", "SOR_MOD": "MS_SOR_V",
}


@pytest.fixture(scope="module")
def refs() -> dict[str, set[str]]:
    return {
        "MS_CIM_V": _codes(NOM / "MS_CIM_V.csv", "CIM_COD"), "IR_CIM_V": _codes(NOM / "IR_CIM_V.csv", "CIM_COD"),
        "IR_NAT_V": _codes(NOM / "IR_NAT_V.csv", "PRS_NAT"), "IR_DPT_V": _codes(NOM / "IR_DPT_V.csv", "GEO_DPT_COD"),
        "IR_NIR_V": _codes(NOM / "IR_NIR_V.csv", "BEN_NIR_COD"), "IR_ALD_V": _codes(NOM / "IR_ALD_V.csv", "ALD_030_COD"),
        "DS_LIE_V": _codes(NOM / "DS_LIE_V.csv", "DCD_LIE_COD"), "MS_SOR_V": _codes(NOM / "MS_SOR_V.csv", "SOR_MOD_COD"),
        "drugs": set(drug_reference()),
    }


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "d"
    r = run_cli(["synth", *ARGS, "--out", str(out), "--json"])
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["out"] == str(out)
    return out


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].split(";"), [ln.split(";") for ln in lines[1:]]


def _truth(out: Path) -> tuple[dict[str, list[str]], dict[str, dict[int, tuple[str, str]]]]:
    persons: dict[str, list[str]] = defaultdict(list)
    with (out / "truth" / "persons.csv").open() as f:
        for r in csv.DictReader(f):
            assert int(r["row_number"]) == len(persons[r["table"]]) + 1
            persons[r["table"]].append(r["person_key"])
    defects: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    with (out / "truth" / "defects.csv").open() as f:
        for r in csv.DictReader(f):
            defects[r["table"]][int(r["row_number"]) if r["row_number"] else 0] = (r["column"], r["defect"])
    return persons, defects


def _manifest(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))


def test_manifest_is_valid_and_describes_every_file(delivery: Path) -> None:
    m = _manifest(delivery)
    import jsonschema  # imported here: with the notebook extra its import takes 1.7 s (collection)
    jsonschema.validate(m, json_schema())
    names = {t["name"] for t in m["tables"]}
    assert {"IR_BEN_R", "ER_PRS_F", "ER_PHA_F", "IR_IMB_R", "T_MCO22B", "T_MCO23C", "T_MCO23D", "KI_CCI_R",
            "KI_ECD_R"} <= names
    for t in m["tables"]:
        data = (delivery / t["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == t["sha256"]
        assert data.count(b"\n") - 1 == t["rows"]
        assert (delivery / t["schema"]).is_file() and (delivery / t["pseudonymised_schema"]).is_file()
        header = data.split(b"\n", 1)[0].decode().split(";")
        schema = json.loads((delivery / t["schema"]).read_text())
        assert header == [f["name"] for f in schema["fields"]]
        for ident in t["identifiers"]:
            if ident["kind"] == "quasi":
                assert ident["column"] in header
            else:  # state clear: the inputs are in the file, the pseudonym is not
                assert ident["state"] == "clear" and ident["column"] not in header
                assert all(c in header for c in ident["inputs"])
    producers = {t["name"]: t["producer"] for t in m["tables"]}
    assert producers["IR_BEN_R"] == "cnam" and producers["T_MCO22B"] == "atih" and producers["KI_CCI_R"] == "cepidc"


def test_truth_covers_every_row(delivery: Path) -> None:
    persons, _ = _truth(delivery)
    for t in _manifest(delivery)["tables"]:
        assert len(persons[t["name"]]) == t["rows"], t["name"]


def test_same_seed_same_bytes_other_seed_other_bytes(delivery: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert run_cli(["synth", *ARGS, "--out", str(again)]).code == 0

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digest(again) == digest(delivery)
    other = tmp_path / "other"
    assert run_cli(["synth", *[a if a != "99" else "100" for a in ARGS], "--out", str(other)]).code == 0
    assert digest(other)["ER_PRS_F.csv"] != digest(delivery)["ER_PRS_F.csv"]


def _death_dates(delivery: Path, persons: dict[str, list[str]], defects: dict[str, Any]) -> dict[str, dt.date]:
    """True death dates: the certificates' (never noised; only `impossible_date` defects touch them)."""
    header, rows = _read(delivery / "KI_CCI_R.csv")
    i = header.index("BEN_DCD_DTE")
    bad = {n for n, (c, _) in defects["KI_CCI_R"].items() if c == "BEN_DCD_DTE"}
    return {persons["KI_CCI_R"][n]: dt.date.fromisoformat(r[i]) for n, r in enumerate(rows) if n + 1 not in bad}


def _conforms(value: str, field: dict[str, Any]) -> bool:
    c = field.get("constraints", {})
    if value == "":
        return not c.get("required")
    typ, fmt = field["type"], field.get("format", "default")
    try:
        if typ == "integer":
            int(value)
        elif typ == "number":
            float(value)
        elif typ == "year":
            assert re.fullmatch(r"\d{4}", value)
        elif typ == "boolean":
            assert value in ("0", "1", "true", "false")
        elif typ == "date":
            dt.datetime.strptime(value, DATE_FORMATS[fmt])
    except (ValueError, AssertionError):
        return False
    if "maxLength" in c and len(value) > c["maxLength"]:
        return False
    if "minLength" in c and len(value) < c["minLength"]:
        return False
    return not ("pattern" in c and not re.fullmatch(c["pattern"], value))


def test_clean_rows_conform_and_use_real_codes(delivery: Path, refs: dict[str, set[str]]) -> None:
    persons, defects = _truth(delivery)
    deaths = _death_dates(delivery, persons, defects)
    for t in _manifest(delivery)["tables"]:
        header, rows = _read(delivery / t["file"])
        fields = json.loads((delivery / t["schema"]).read_text())["fields"]
        bad = defects.get(t["name"], {})
        for n, row in enumerate(rows, start=1):
            if n in bad:
                continue
            for value, field in zip(row, fields, strict=True):
                name = field["name"]
                assert _conforms(value, field), (t["name"], n, name)
                if value and name in NOMENCLATURE_OF:
                    assert value in refs[NOMENCLATURE_OF[name]], (t["name"], n, name)
                if value and name == "PHA_PRS_C13":
                    assert value in refs["drugs"], (t["name"], n)
                if value and name in NIR_COLUMNS:
                    assert nir.is_valid(value) and nir.is_synthetic(value), (t["name"], n, name)
            rec = dict(zip(header, row, strict=True))
            care = [rec.get(c) for c in ("EXE_SOI_DTD", "EXE_SOI_DTF", "ENT_DAT", "SOR_DAT") if rec.get(c)]
            for v in care:  # care dates of clean claims and stays: in the period, not after death (+1 day)
                d = dt.datetime.strptime(v, "%Y-%m-%d" if "-" in v else "%d%m%Y").date()
                assert START <= d <= END, (t["name"], n)
                death = deaths.get(persons[t["name"]][n - 1])
                assert death is None or d <= death + dt.timedelta(days=1), (t["name"], n)
            if "EXE_SOI_DTF" in rec:
                assert rec["EXE_SOI_DTF"] >= rec["EXE_SOI_DTD"]


def test_defects_are_where_the_truth_says(delivery: Path, refs: dict[str, set[str]]) -> None:
    persons, defects = _truth(delivery)
    deaths = _death_dates(delivery, persons, defects)
    seen: Counter[str] = Counter()
    for table, found in defects.items():
        path = delivery / f"{table}.csv"
        header, rows = _read(path)
        for n, (column, code) in found.items():
            seen[code] += 1
            if code == "missing_flow_month":
                assert n == 0 and column == "FLX_DIS_DTD"
                continue
            row = dict(zip(header, rows[n - 1], strict=True))
            value = row.get(column, "")
            if code == "invalid_nir_key":
                assert len(value) == 15 and not nir.is_valid(value)
            elif code == "impossible_date":
                fmt = "%Y-%m-%d" if "-" in value else "%d%m%Y"
                with pytest.raises(ValueError):
                    dt.datetime.strptime(value, fmt)
            elif code == "future_birth_year":
                assert int(value) > END.year + 2
            elif code == "end_before_start":
                start_col = {"EXE_SOI_DTF": "EXE_SOI_DTD", "IMB_ALD_DTF": "IMB_ALD_DTD", "SOR_DAT": "ENT_DAT"}[column]
                fmt = "%Y-%m-%d" if "-" in value else "%d%m%Y"
                assert dt.datetime.strptime(value, fmt) < dt.datetime.strptime(row[start_col], fmt)
            elif code == "code_not_in_nomenclature":
                ref = refs["drugs"] if column == "PHA_PRS_C13" else refs[NOMENCLATURE_OF[column]]
                assert value not in ref
            elif code == "duplicate_row":
                assert n >= 2 and rows[n - 1] == rows[n - 2] and column == ""
            elif code == "missing_required":
                assert value == ""
            elif code == "bad_return_code":
                assert value == "1"
            elif code == "death_date_sentinel":
                assert value == "1600-01-01"
            elif code == "event_after_death":
                d = dt.datetime.strptime(value, "%Y-%m-%d" if "-" in value else "%d%m%Y").date()
                death = deaths.get(persons[table][n - 1])
                assert death is not None and d > death + dt.timedelta(days=1)
            else:
                pytest.fail(f"unknown defect code {code}")
    for code in ("invalid_nir_key", "impossible_date", "end_before_start", "code_not_in_nomenclature",
                 "duplicate_row", "missing_required", "death_date_sentinel", "missing_flow_month",
                 "future_birth_year", "event_after_death", "bad_return_code"):
        assert seen[code] > 0, code
    summary = json.loads((delivery / "truth" / "summary.json").read_text())
    # FLX_DIS_DTD of ER_PRS_F never falls in a missing month.
    header, rows = _read(delivery / "ER_PRS_F.csv")
    i = header.index("FLX_DIS_DTD")
    months = {r[i][:7] for r in rows}
    assert summary["missing_flow_months"] and not set(summary["missing_flow_months"]) & months


def test_death_certificates_carry_no_nir(delivery: Path) -> None:
    for name in ("KI_CCI_R", "KI_ECD_R"):
        text = (delivery / f"{name}.csv").read_text()
        header = text.split("\n", 1)[0]
        assert "NIR" not in header and "ANO" not in header
        assert not re.search(r"(?<![0-9A-Z])[12][0-9]{4}([0-9]{2}|2A|2B)[0-9]{6,8}(?![0-9])", text)


def test_noise_links_and_population_structure(delivery: Path) -> None:
    persons, _defects = _truth(delivery)
    header, rows = _read(delivery / "IR_BEN_R.csv")
    rec = [dict(zip(header, r, strict=True)) for r in rows]
    keys = persons["IR_BEN_R"]
    per_person = Counter(keys)
    assert any(v >= 2 for v in per_person.values())  # rights changed (parent -> own) or a fictitious row
    own_missing = sum(1 for r in rec if not r["BEN_NIR"]) / len(rec)
    assert 0.01 < own_missing < 0.06
    assert any(r["BEN_CDI_NIR"] in ("01", "05", "08") for r in rec)
    twins = [r for r in rec if r["BEN_RNG_GEM"] == "2"]
    assert twins
    psa = Counter((r["BEN_NIR_OUV"], r["BEN_NAI_DTE"], r["BEN_SEX_COD"]) for r in rec)
    assert any(psa[(t["BEN_NIR_OUV"], t["BEN_NAI_DTE"], t["BEN_SEX_COD"])] >= 2 for t in twins)
    # Some certificates are of people outside the population.
    assert set(persons["KI_CCI_R"]) - set(keys)


def test_planted_coding_gap_lowers_associated_diagnoses(delivery: Path) -> None:
    with (NOM / "IR_DPT_V.csv").open(encoding="utf-8") as f:
        regions = {r["GEO_DPT_COD"][1:]: r["GEO_REG_COD"] for r in csv.DictReader(f, delimiter=";")}
    das: Counter[str] = Counter()
    stays: Counter[str] = Counter()
    for year in ("22", "23"):
        h, b = _read(delivery / f"T_MCO{year}B.csv")
        region = {r[h.index("RSA_NUM")]: regions.get(r[h.index("BDI_DEP")]) == "84" for r in b}
        stays.update("gap" if g else "other" for g in region.values())
        hd, d = _read(delivery / f"T_MCO{year}D.csv")
        das.update("gap" if region.get(r[hd.index("RSA_NUM")]) else "other" for r in d)
    assert stays["gap"] > 30
    assert das["gap"] / stays["gap"] < 0.7 * das["other"] / stays["other"]


def test_deliveries_split_claims_by_flow_month(tmp_path: Path) -> None:
    out = tmp_path / "k"
    r = run_cli(["synth", "--persons", "400", "--start", "2023-01-01", "--end", "2023-12-31", "--seed", "5",
                 "--deliveries", "3", "--defect-rate", "0", "--out", str(out)])
    assert r.code == 0, r.stderr
    folders = sorted(p.name for p in out.iterdir() if p.name.startswith("delivery-"))
    assert folders == ["delivery-01", "delivery-02", "delivery-03"]
    bens = {(out / f / "IR_BEN_R.csv").read_bytes() for f in folders}
    assert len(bens) == 1  # one population
    persons, defects = _truth(out)
    assert not defects
    total = 0
    for f in folders:
        m = _manifest(out / f)
        import jsonschema  # imported here: with the notebook extra its import takes 1.7 s (collection)
        jsonschema.validate(m, json_schema())
        lo, hi = m["delivery"]["flow_month_first"], m["delivery"]["flow_month_last"]
        header, rows = _read(out / f / "ER_PRS_F.csv")
        i = header.index("FLX_DIS_DTD")
        assert all(lo <= row[i][:7] <= hi for row in rows)
        total += len(rows)
        assert len(persons[f"{f}/ER_PRS_F"]) == len(rows)
    assert 15 * 400 * 0.9 < total < 25 * 400 * 1.1


@pytest.mark.parametrize("args,message", [
    (["--end", "2022-01-01"], "--end"),
    (["--persons", "-5"], "--persons"),
    (["--profile", "soft"], "--profile"),
    (["--deliveries", "0"], "--deliveries"),
    (["--plant", "coding_gap:XX"], "--plant"),
    (["--start", "2023-02-30"], "--start"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    base = {"--persons": "10", "--start": "2023-01-01", "--end": "2023-03-31", "--seed": "1"}
    base.update(zip(args[::2], args[1::2], strict=True))
    flat = [x for kv in base.items() for x in kv]
    out = tmp_path / "o"
    r = run_cli(["synth", *flat, "--out", str(out)])
    assert r.code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_unwritable_or_non_empty_out_is_refused(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    r = run_cli(["synth", "--persons", "5", "--start", "2023-01-01", "--end", "2023-01-31", "--seed", "1",
                 "--out", str(busy)])
    assert r.code == 2 and "--out" in r.stderr and sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = run_cli(["synth", "--persons", "5", "--start", "2023-01-01", "--end", "2023-01-31", "--seed", "1",
                     "--out", str(locked / "d")])
        if os.geteuid() != 0:  # root writes anywhere
            assert r.code == 2 and "--out" in r.stderr
        assert list(tmp_path.glob("**/*.partial")) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("persons", [1, 2, 7])
def test_tiny_populations_and_full_columns(tmp_path: Path, persons: int) -> None:
    out = tmp_path / "tiny"
    r = run_cli(["synth", "--persons", str(persons), "--start", "2023-01-01", "--end", "2023-01-31", "--seed", "3",
                 "--columns", "full", "--profile", "hard", "--out", str(out)])
    assert r.code == 0, r.stderr
    persons_truth, _ = _truth(out)
    m = _manifest(out)
    import jsonschema  # imported here: with the notebook extra its import takes 1.7 s (collection)
    jsonschema.validate(m, json_schema())
    for t in m["tables"]:
        assert len(persons_truth[t["name"]]) == t["rows"]
        header = (out / t["file"]).read_text().split("\n", 1)[0].split(";")
        assert len(header) == len(json.loads((out / t["schema"]).read_text())["fields"])
    assert len((out / "ER_PRS_F.csv").read_text().split("\n", 1)[0].split(";")) > 100  # every column
