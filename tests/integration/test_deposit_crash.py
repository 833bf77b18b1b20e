"""kill -9 at every step boundary of a deposit leaves the old state or the new one, never half; the next
start (or doctor) rolls back the pending version and removes its files, or gates the version a crash left
committed; every live version's state is explained by the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guichet.deposit.model import CRASH_POINTS
from tests.conftest import make_hub, run_cli, run_cli_process

HEADER = "ID;V"


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_crash_at_each_step_leaves_old_or_new(tmp_path: Path, step: str) -> None:
    hub = make_hub(tmp_path)
    home = str(hub.home)
    hub.close()
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"name": "T", "primaryKey": ["ID"],
                                  "fields": [{"name": "ID", "type": "integer"}, {"name": "V", "type": "string"}]}))
    old = tmp_path / "old.csv"
    old.write_text(HEADER + "\n" + "\n".join(f"{i};a" for i in range(5)) + "\n")
    new = tmp_path / "new.csv"
    new.write_text(HEADER + "\n" + "\n".join(f"{i};b" for i in range(7)) + "\n")
    key = tmp_path / "cnam.pem"
    # the set-up and the inspections run in this process (cheaper); the crash and the next start are processes
    assert run_cli(["producer", "add", "cnam", "--org", "A", "--key-out", str(key), "--home", home]).code == 0
    base = ["deposit", "run", "--dataset", "T", "--schema", str(schema), "--producer", "cnam", "--home", home,
            "--json"]
    assert run_cli([*base[:2], str(old), *base[2:]]).code == 0
    crashed = run_cli_process([*base[:2], str(new), *base[2:], "--crash-at", step])
    assert crashed.code == -9
    versions = json.loads(run_cli(["catalogue", "versions", "T", "--home", home, "--json"]).stdout)
    rows = [v["rows"] for v in versions]
    assert rows in ([5], [5, 7]), rows  # old state, or old + complete new
    doctor = run_cli(["doctor", "--home", home, "--json"])
    assert doctor.code == 0, doctor.stderr
    items = {i["name"]: i for i in json.loads(doctor.stdout)["items"]}
    # a crash after the commit and before the gates left the new version held and unexplained: doctor gates it
    assert (items["interrupted versions"]["status"] == "repaired") == (step == "committed")
    every = json.loads(run_cli(["catalogue", "versions", "T", "--all", "--home", home, "--json"]).stdout)
    assert "pending" not in {v["status"] for v in every}
    lake = Path(home) / "lake" / "T"
    assert {v["status"] for v in every} <= {"published", "rolled_back"}
    _explained(Path(home), [v["version"] for v in every if v["status"] == "published"])
    live = {f"v{v['version']:05d}" for v in every if v["status"] in ("published", "held")}
    assert {p.name for p in lake.iterdir() if p.name != ".lock"} == live  # no orphan, no staging left
    again = run_cli_process([*base[:2], str(new), *base[2:]])
    assert again.code == 0 and json.loads(again.stdout)["rows_accepted"] == 7


def _explained(home: Path, live: list[int]) -> None:
    """Each live version has its commit and its gates' verdict in the audit trail (the mirror files)."""
    events = [json.loads(line) for f in sorted((home / "audit").glob("*.jsonl")) for line in f.read_text().splitlines()
              if line.strip()]
    for v in live:
        steps = [json.loads(e["details"]).get("step") for e in events if e.get("object") == f"dataset:T:v{v}"]
        assert "committed" in steps and "published" in steps, (v, steps)
