"""The hub's files are readable by its own OS user only — database, config, audit mirror, lake and
quarantine — in both modes; doctor tightens what a copy by hand loosened (issue item: files readable by
everyone)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli_process


def _loose(home: Path) -> list[str]:
    return [f"{p.relative_to(home)} {stat.filemode(p.stat().st_mode)}" for p in [home, *home.rglob("*")]
            if not p.is_symlink() and p.stat().st_mode & 0o077]


@pytest.mark.parametrize("mode", ["development", "production"])
def test_every_file_of_a_hub_is_private(tmp_path: Path, mode: str) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home), "--mode", mode]).code == 0
    if mode == "development":
        schema = tmp_path / "s.json"
        schema.write_text(json.dumps({"name": "T", "fields": [{"name": "ID", "type": "integer"}]}))
        f = tmp_path / "t.csv"
        f.write_text("ID\n1\nx\n")  # one row quarantined: the quarantine folder has a file too
        key = tmp_path / "p.pem"
        assert run_cli_process(["producer", "add", "cnam", "--org", "A", "--key-out", str(key),
                                "--home", str(home)]).code == 0
        out = run_cli_process(["deposit", "run", str(f), "--dataset", "T", "--schema", str(schema), "--producer",
                               "cnam", "--home", str(home), "--json"])
        assert out.code == 1 and json.loads(out.stdout)["rows_quarantined"] == 1, out.stderr  # ran, 1 quarantined
        assert any((home / "quarantine").rglob("*.parquet")) and any((home / "lake").rglob("*.parquet"))
    assert any(home.rglob("*.jsonl")) and (home / "guichet.toml").is_file()
    assert _loose(home) == []


def test_doctor_tightens_loosened_files(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run_cli_process(["init", "--home", str(home), "--mode", "development"]).code == 0
    (home / "guichet.toml").chmod(0o644)
    (home / "lake").chmod(0o755)
    r = run_cli_process(["doctor", "--home", str(home), "--json"])
    items = {i["name"]: i["status"] for i in json.loads(r.stdout)["items"]}
    assert items["file modes"] == "repaired" and _loose(home) == []
