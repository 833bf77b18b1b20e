"""A deposit's start-up recovery removes only the deposit's own orphans, never another stage's lake data."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli_process


def test_a_deposit_after_linkage_keeps_the_person_index(tmp_path: Path) -> None:
    r = run_cli_process(["demo", "--home", str(tmp_path / "hub"), "--persons", "150", "--json"])
    assert r.code == 0, r.stderr
    index = list((tmp_path / "hub" / "lake" / "linkage").glob("v*/index.parquet"))
    assert index, "the demo's linkage stage wrote no person index"
    level1 = Path(json.loads(r.stdout)["delivery"]).parent / "delivery-level1"
    again = run_cli_process(["deposit", "run", str(level1 / "IR_BEN_R.csv"), "--dataset", "IR_BEN_R",
                             "--schema", str(level1 / "schemas" / "IR_BEN_R.json"), "--producer", "cnam",
                             "--identifiers", "BEN_NIR_PSA:psa", "--identifiers", "BEN_NIR_ANO:ano", "--home", str(tmp_path / "hub")])
    assert again.code in (0, 1), again.stderr
    assert all(p.exists() for p in index), "a deposit removed the person index"
    link = run_cli_process(["link", "run", "--home", str(tmp_path / "hub"), "--json"])
    assert link.code == 0, link.stderr


def test_a_dataset_may_not_take_a_reserved_lake_name(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home), "--mode", "development"]).code == 0
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    schema = tmp_path / "x.json"
    schema.write_text(json.dumps({"fields": [{"name": "a", "type": "integer"}]}))
    r = run_cli_process(["deposit", "run", str(csv), "--dataset", "linkage", "--schema", str(schema),
                         "--home", str(home)])
    assert r.code == 2 and "reserved" in r.stderr
