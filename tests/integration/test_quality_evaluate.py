"""Deposit + quality against synthetic truth: recall >= 0.95 for every defect code, false-positive rate <= 1 %.

Two seeds of the ``standard`` profile, pseudonymised as the producer would, deposited by manifest, then
``guichet quality evaluate --truth`` as a subprocess. Small on purpose (every table under 20,000 rows: see
docs/quality.md, "Known limits", for DuckDB 2.0.1 and multi-page encrypted column chunks); the figures at
3,000 people are in docs/quality.md.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_process

CODES = ("invalid_nir_key", "impossible_date", "future_birth_year", "end_before_start", "code_not_in_nomenclature",
         "duplicate_row", "missing_required", "bad_return_code", "death_date_sentinel", "event_after_death",
         "missing_flow_month")


def _deliver_and_deposit(root: Path, seed: int) -> tuple[Path, Path]:
    home, cust = root / "hub", root / "custodian"
    env = {"GUICHET_HOME": str(home)}
    assert run_cli(["init", "--home", str(home), "--custodian-home", str(cust), "--mode", "development"]).code == 0
    delivery = root / "delivery"
    res = run_cli(["synth", "--persons", "500", "--start", "2022-01-01", "--end", "2022-12-31", "--seed", str(seed),
                   "--out", str(delivery), "--profile", "standard", "--defect-rate", "0.05"])
    assert res.code == 0, res.stderr
    for name in ("cnam", "atih", "cepidc"):
        res = run_cli(["producer", "add", name, "--org", f"{name} (synthetic)", "--key-out", str(root / f"{name}.pem"),
                       "--as", "operator"], env)
        assert res.code == 0, res.stderr
    key = root / "snds.key"
    assert run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key),
                    "--custodian-home", str(cust)]).code == 0
    level1 = root / "level1"
    res = run_cli(["producer", "pseudonymise", str(delivery), "--manifest", str(delivery / "manifest.toml"),
                   "--key-file", str(key), "--out", str(level1)])
    assert res.code == 0, res.stderr
    res = run_cli(["deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"), "--as", "operator",
                   "--json"], env)
    assert res.code in (0, 1), res.stderr  # 1: rows were quarantined (the defects)
    return home, delivery / "truth"


@pytest.mark.parametrize("seed", [5, 6])
def test_recall_and_false_positives_against_truth(tmp_path: Path, seed: int) -> None:
    home, truth = _deliver_and_deposit(tmp_path, seed)
    res = run_cli_process(["quality", "evaluate", "--truth", str(truth), "--as", "operator", "--json"],
                          {"GUICHET_HOME": str(home)})
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    with (truth / "defects.csv").open(encoding="utf-8") as fh:
        planted = Counter(r["defect"] for r in csv.DictReader(fh))
    assert set(out["recall"]) == set(planted)
    # the codes a 500-person delivery always carries; the rarer ones are scored whenever present
    assert {"invalid_nir_key", "impossible_date", "end_before_start", "code_not_in_nomenclature", "duplicate_row",
            "missing_required", "missing_flow_month"} <= set(planted)
    assert set(planted) <= set(CODES)
    low = {code: v for code, v in out["recall"].items() if v < 0.95}
    assert not low, f"recall below 0.95: {low}"
    assert out["false_positive_rate"] <= 0.01
    assert out["counts"]["defects"] == sum(planted.values())


def test_evaluate_refuses_a_folder_without_truth(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli(["init", "--home", str(home), "--custodian-home", str(tmp_path / "c"), "--mode",
                    "development"]).code == 0
    res = run_cli(["quality", "evaluate", "--truth", str(tmp_path), "--as", "operator"], {"GUICHET_HOME": str(home)})
    assert res.code == 2 and "defects.csv" in res.stderr and "Traceback" not in res.stderr
