"""A lake name a stage reserves is refused to datasets. (That a deposit after linkage keeps the person index
is tested on the demo hub test_demo_and_readme.py builds anyway.)"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli_process


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
