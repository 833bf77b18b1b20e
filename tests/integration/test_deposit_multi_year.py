"""A delivery spanning years, as the generator writes it (the PMSI's T_MCO19B, T_MCO20B, T_MCO21B of one
T_MCOaaB): each dataset is one version whose files are its yearly parts; the lake, linkage, its export
and the register see every year; a corrected year replaces that year only."""

from __future__ import annotations

import csv
import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from guichet.config import load_config, save_config
from guichet.deposit.manifest import read_manifest, year_of
from guichet.errors import BadInput
from guichet.hub import open_hub
from guichet.lake.versions import all_versions
from tests.conftest import run_cli
from tests.lake_rows import lake_table

pytestmark = pytest.mark.integration
YEARS = (2019, 2020, 2021)
PMSI = ("T_MCOaaB", "T_MCOaaC", "T_MCOaaD")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("years")
    home, cust, clear, level1, key = (root / n for n in ("hub", "cust", "clear", "level1", "snds.key"))
    env = {"GUICHET_HOME": str(home)}
    assert run_cli(["init", "--home", str(home), "--custodian-home", str(cust), "--mode", "development"]).code == 0
    res = run_cli(["synth", "--persons", "300", "--start", "2019-01-01", "--end", "2021-12-31", "--seed", "5",
                   "--out", str(clear)])
    assert res.code == 0, res.stderr
    for name in ("cnam", "atih", "cepidc"):
        assert run_cli(["producer", "add", name, "--org", name, "--key-out", str(root / f"{name}.pem"),
                        "--as", "operator"], env).code == 0
    assert run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key),
                    "--custodian-home", str(cust)]).code == 0
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1)]).code == 0
    res = run_cli(["deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"), "--as", "operator",
                   "--json"], env)
    assert res.code in (0, 1), res.stderr
    (root / "deposit.json").write_text(res.stdout)
    return {"home": home, "level1": level1, "clear": clear, "root": root}


def _manifest_rows(level1: Path) -> dict[str, int]:
    raw = tomllib.loads((level1 / "manifest.toml").read_text())
    return {t["name"]: t["rows"] for t in raw["tables"]}


def test_each_dataset_of_yearly_files_is_one_version_with_a_part_per_year(delivered: dict[str, Path]) -> None:
    results = json.loads((delivered["root"] / "deposit.json").read_text())
    by_dataset = Counter(r["dataset"] for r in results)
    assert all(n == 1 for n in by_dataset.values())  # one result (one version) per dataset
    rows = _manifest_rows(delivered["level1"])
    hub = open_hub(delivered["home"])
    try:
        versions = {v.dataset: v for v in all_versions(hub, ("published",))}
        for dataset in PMSI:
            v = versions[dataset]
            names = [dataset.replace("aa", f"{y % 100:02d}") for y in YEARS]
            assert sorted((f["year"], f["source"]) for f in v.files) == \
                [(y, n) for y, n in zip(YEARS, names, strict=True)]
            assert {f["source"]: f["rows_in"] for f in v.files} == {n: rows[n] for n in names}
            assert v.rows_in == sum(rows[n] for n in names)
            assert v.rows_accepted + v.rows_quarantined == v.rows_in
            # the lake's rows name their delivered file and add up to each file's accepted rows
            table = lake_table(hub, dataset, ["_source_file"])
            per_file = Counter(table.column("_source_file").to_pylist())
            assert dict(per_file) == {f["source"]: f["rows"] for f in v.files}
    finally:
        hub.close()


def test_link_export_names_every_years_rows_by_their_file(delivered: dict[str, Path]) -> None:
    env = {"GUICHET_HOME": str(delivered["home"])}
    assert run_cli(["link", "run", "--as", "operator"], env).code in (0, 1)
    out = delivered["root"] / "export"
    assert run_cli(["link", "export", "--out", str(out), "--as", "operator"], env).code == 0
    with (out / "persons.csv").open(newline="") as fh:
        exported: dict[str, list[int]] = {}
        for r in csv.DictReader(fh):
            exported.setdefault(r["table"], []).append(int(r["row_number"]))
    rows = _manifest_rows(delivered["level1"])
    for y in YEARS:
        name = f"T_MCO{y % 100:02d}C"
        assert sorted(exported[name]) == list(range(1, rows[name] + 1)), name  # every delivered row, once
    with (delivered["clear"] / "truth" / "persons.csv").open(newline="") as fh:
        truth_tables = {r["table"] for r in csv.DictReader(fh)}
    assert {f"T_MCO{y % 100:02d}C" for y in YEARS} <= truth_tables  # named as the truth names them


def test_a_corrected_year_replaces_that_year_only(delivered: dict[str, Path], tmp_path: Path) -> None:
    env = {"GUICHET_HOME": str(delivered["home"])}
    home = delivered["home"]
    save_config(load_config(home).with_properties(quality_gate=False))
    hub = open_hub(home)
    try:
        before = {v.dataset: v for v in all_versions(hub, ("published",))}["T_MCOaaB"]
    finally:
        hub.close()
    lines = (delivered["level1"] / "T_MCO21B.csv").read_text().splitlines()
    corrected = tmp_path / "T_MCO21B.csv"
    corrected.write_text("\n".join(lines[:-1]) + "\n")  # one stay fewer in 2021
    res = run_cli(["deposit", "run", str(corrected), "--dataset", "T_MCOaaB", "--schema",
                   str(delivered["level1"] / "schemas" / "clear" / "T_MCOaaB.json"), "--producer", "atih", "--as", "operator",
                   "--json"], env)
    assert res.code in (0, 1), res.stderr
    assert json.loads(res.stdout)["rows_in"] == len(lines) - 2
    hub = open_hub(home)
    try:
        after = {v.dataset: v for v in all_versions(hub, ("published",))}["T_MCOaaB"]
    finally:
        hub.close()
    assert after.version == before.version + 1
    kept = {f["year"]: f for f in before.files if f["year"] != 2021}
    assert {f["year"]: f["path"] for f in after.files if f["year"] != 2021} == {y: f["path"] for y, f in kept.items()}
    [new] = [f for f in after.files if f["year"] == 2021]
    assert new["rows_in"] == len(lines) - 2 and new["path"] not in {f["path"] for f in before.files}
    assert after.rows == sum(int(f["rows"]) for f in after.files)


def _manifest(tmp: Path, tables: str) -> Path:
    (tmp / "a.json").write_text(json.dumps({"name": "T", "fields": [{"name": "ID", "type": "integer"}]}))
    (tmp / "b.json").write_text(json.dumps({"name": "T", "fields": [{"name": "ID", "type": "string"}]}))
    for n in ("T_X19B", "T_X20B", "X", "Y"):
        (tmp / f"{n}.csv").write_text("ID\n1\n")
    (tmp / "manifest.toml").write_text('format = "guichet-delivery/1"\n' + tables)
    return tmp / "manifest.toml"


def _table(name: str, dataset: str, schema: str = "a.json", extra: str = "") -> str:
    return (f'[[tables]]\nname = "{name}"\ndataset = "{dataset}"\nfile = "{name}.csv"\nschema = "{schema}"\n'
            f'producer = "cnam"\n{extra}')


def test_years_are_read_from_the_manifest_or_the_snds_names(tmp_path: Path) -> None:
    m = _manifest(tmp_path, _table("T_X19B", "T_XaaB") + _table("X", "T_XaaB", extra="year = 2020\n"))
    _domain, tables = read_manifest(tmp_path, m)
    assert [t.year for t in tables] == [2019, 2020]
    assert year_of("w", "T_MCO21C", "T_MCOaaC", None) == 2021
    assert year_of("w", "ER_PRS_F", "ER_PRS_F", None) is None
    assert year_of("w", "T_MCOxxC", "T_MCOaaC", None) is None
    with pytest.raises(BadInput, match=r"tables\[0\]: year must be a four-digit year"):
        read_manifest(tmp_path, _manifest(tmp_path, _table("X", "D", extra='year = "2020"\n')))
    with pytest.raises(BadInput, match="a table name appears twice"):
        read_manifest(tmp_path, _manifest(tmp_path, _table("X", "D") + _table("X", "E")))


@pytest.mark.parametrize(("tables", "why"), [
    (_table("X", "D") + _table("Y", "D"), "D: several files in one delivery are its parts by year; give each its year"),
    (_table("T_X19B", "T_XaaB") + _table("T_X20B", "T_XaaB", schema="b.json"),
     "T_X20B.csv: a part of T_XaaB with another schema than T_X19B.csv"),
], ids=["no-years", "other-schema"])
def test_parts_that_do_not_make_one_version_are_refused(tmp_path: Path, tables: str, why: str) -> None:
    m = _manifest(tmp_path, tables)
    home = tmp_path / "hub"
    assert run_cli(["init", "--home", str(home), "--mode", "development"]).code == 0
    env = {"GUICHET_HOME": str(home)}
    assert run_cli(["producer", "add", "cnam", "--org", "cnam", "--key-out", str(tmp_path / "k.pem"),
                    "--as", "operator"], env).code == 0
    res = run_cli(["deposit", "run", str(tmp_path), "--manifest", str(m), "--as", "operator"], env)
    assert res.code == 2
    assert res.stderr.strip() == f"guichet: {why} (the manifest's year = YYYY, or a name with the year where the " \
        "dataset has aa)" if "year" in why else res.stderr.strip().startswith(f"guichet: {why}")
