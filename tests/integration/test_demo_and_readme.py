"""`guichet demo` end to end, and the README's sample output kept true."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from scripts.update_readme import README, readme_block
from tests.conftest import run_cli_process


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("demo")
    r = run_cli_process(["demo", "--home", "guichet-demo"], cwd=cwd)
    assert r.code == 0, r.stderr
    return cwd, r.stdout


def test_readme_sample_output_is_true(demo: tuple[Path, str]) -> None:
    _, stdout = demo
    assert readme_block(README.read_text(encoding="utf-8")) == stdout, (
        "README.md's demo output is stale: run `.venv/bin/python scripts/update_readme.py`")


def test_demo_json_is_deterministic_and_complete(tmp_path: Path, demo: tuple[Path, str]) -> None:
    runs = []
    for name in ("a", "b"):
        r = run_cli_process(["demo", "--home", str(tmp_path / name), "--json", "--persons", "150"])
        assert r.code == 0, r.stderr
        runs.append(json.loads(r.stdout))
    a, b = runs
    assert a["counts"] == b["counts"] and a["stages"] == b["stages"]
    assert a["version"] >= 1 and set(a) >= {"version", "home", "custodian_home", "stages", "counts", "accounts"}
    roles = {"operator", "producer", "researcher", "committee", "authority", "checker", "auditor"}
    assert set(a["accounts"]) == roles
    assert a["application"]["state"] == "authorised"
    assert a["application"]["steps"] == ["draft", "submitted", "under_review", "opinion", "authorised"]
    assert a["application"]["opinions"] == {"citizens": "favourable", "scientific": "favourable"}
    # one query in the sample workspace's sandbox, after the operator released the (held) extract
    assert a["session"]["columns"] == ["claims", "persons"] and a["session"]["rows"] == b["session"]["rows"]
    assert a["session"]["rows"][0][0] == a["workspace"]["tables"]["ER_PRS_F"]
    assert a["airlock"]["state"] == "released" and a["airlock"]["released"] == 1
    cred = tmp_path / "a" / "demo-credentials.txt"
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    for line in cred.read_text().splitlines()[2:]:
        _user, _role, password, totp = line.split("\t")
        assert password not in json.dumps(a) and totp not in json.dumps(a)
    _, stdout = demo
    assert "demo-credentials.txt" in stdout
    assert "guichet serve --home guichet-demo" in stdout, "the demo prints the command that serves its hub"


def test_demo_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    r = run_cli_process(["demo", "--home", str(tmp_path / "full")])
    assert r.code == 2 and "not empty" in r.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["keep.txt"]


def test_demo_hub_verifies(demo: tuple[Path, str]) -> None:
    cwd, _ = demo
    r = run_cli_process(["audit", "verify", "--home", "guichet-demo", "--json"], cwd=cwd)
    assert r.code == 0 and json.loads(r.stdout)["ok"]
