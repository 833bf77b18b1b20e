"""Deposits, versions and producers on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.errors import Conflict, Refused
from guichet.hub import Hub
from guichet.lake.versions import current_version, versions


def _files(tmp: Path, rows: int, extra: dict | None = None) -> tuple[Path, Path]:
    schema = {"name": "T", "primaryKey": ["ID"], "fields": [{"name": "ID", "type": "integer"},
                                                           {"name": "V", "type": "string"}], **(extra or {})}
    s = tmp / f"s{rows}.json"
    s.write_text(json.dumps(schema))
    f = tmp / f"f{rows}.csv"
    f.write_text("ID;V\n" + "\n".join(f"{i};x" for i in range(rows)) + "\n")
    return f, s


def test_versions_producers_and_schema_versions(store_hub: Hub, tmp_path: Path) -> None:
    actor = system_actor()
    info, private = deposits.add_producer(store_hub, actor, name="cnam", org="Assurance Maladie")
    assert private and "PRIVATE KEY" in private and info.name == "cnam"
    with pytest.raises(Conflict):
        deposits.add_producer(store_hub, actor, name="cnam", org="Assurance Maladie")
    f, s = _files(tmp_path, 3)
    [r] = deposits.deposit(store_hub, actor, request=single_file_request(f, "T", s, "cnam", "replace", []))
    assert r.status == "published" and r.rows_accepted == 3
    with pytest.raises(Refused):
        deposits.deposit(store_hub, actor, request=single_file_request(f, "U", s, "nobody", "replace", []))
    # a breaking schema change needs a new declared version
    schema = json.loads(s.read_text())
    schema["fields"][1]["type"] = "integer"
    s.write_text(json.dumps(schema))
    with pytest.raises(Conflict):
        deposits.deposit(store_hub, actor, request=single_file_request(f, "T", s, "cnam", "replace", []))
    schema["version"] = "2"
    s.write_text(json.dumps(schema))
    f2 = tmp_path / "f.csv"
    f2.write_text("ID;V\n1;2\n")
    [r2] = deposits.deposit(store_hub, actor, request=single_file_request(f2, "T", s, "cnam", "replace", []))
    assert r2.version == r.version + 1
    cur = current_version(store_hub, "T")
    assert cur is not None and cur.version == r2.version and cur.rows == 1
    assert [v.status for v in versions(store_hub, "T", include_all=True)].count("published") == 2
