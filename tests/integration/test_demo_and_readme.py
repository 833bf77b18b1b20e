"""`guichet demo` end to end, and the README's sample output kept true."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

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


def _answer(demo: tuple[Path, str]) -> tuple[Path, dict[str, Any]]:
    """The demo's hub and its answer, as ``--json`` prints it, which the demo keeps in HOME/demo.json."""
    home = demo[0] / "guichet-demo"
    return home, json.loads((home / "demo.json").read_text(encoding="utf-8"))


def test_demo_json_is_complete(demo: tuple[Path, str]) -> None:
    """The demo's JSON answer. That the demo is deterministic is shown by test_readme_sample_output_is_true: a
    fresh run prints, to the character, the counts of every stage that another run (the one that wrote the
    README) printed."""
    home_a, a = _answer(demo)
    assert a["version"] >= 1 and set(a) >= {"version", "home", "custodian_home", "stages", "counts", "accounts"}
    roles = {"operator", "producer", "researcher", "committee", "authority", "checker", "auditor"}
    assert set(a["accounts"]) == roles
    assert a["application"]["state"] == "authorised"
    assert a["application"]["steps"] == ["draft", "submitted", "under_review", "opinion", "authorised"]
    assert a["application"]["opinions"] == {"citizens": "favourable", "scientific": "favourable"}
    # one query in the sample workspace's sandbox, after the operator released the (held) extract
    assert a["session"]["columns"] == ["claims", "persons"] and len(a["session"]["rows"]) == 1
    assert a["session"]["rows"][0][0] == a["workspace"]["tables"]["ER_PRS_F"]
    assert a["airlock"]["state"] == "released" and a["airlock"]["released"] == 1
    # a statistics request answered: released with its tables, or refused when every cell was withheld
    assert a["stats"]["state"] in ("released", "refused") and set(a["stats"]["withheld"]) == {"persons", "mean_age"}
    assert a["stats"]["released"] == (2 if a["stats"]["state"] == "released" else 0)
    cred = home_a / "demo-credentials.txt"
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


# Last in this module: it changes the demo's hub (a deposit and a linkage run after the demo's).
def test_a_deposit_after_linkage_keeps_the_person_index(demo: tuple[Path, str]) -> None:
    """A deposit's start-up recovery removes only the deposit's own orphans, never another stage's lake data."""
    home, answer = _answer(demo)
    index = list((home / "lake" / "linkage").glob("v*/index.parquet"))
    assert index, "the demo's linkage stage wrote no person index"
    delivery = Path(answer["delivery"])
    level1 = (delivery if delivery.is_absolute() else demo[0] / delivery).parent / "delivery-level1"
    again = run_cli_process(["deposit", "run", str(level1 / "IR_BEN_R.csv"), "--dataset", "IR_BEN_R",
                             "--schema", str(level1 / "schemas" / "IR_BEN_R.json"), "--producer", "cnam",
                             "--identifiers", "BEN_NIR_PSA:psa", "--identifiers", "BEN_NIR_ANO:ano", "--home", str(home)])
    assert again.code in (0, 1), again.stderr
    assert all(p.exists() for p in index), "a deposit removed the person index"
    link = run_cli_process(["link", "run", "--home", str(home), "--json"])
    assert link.code == 0, link.stderr
