"""Escrow and recovery through the CLI: a rebuilt custodian reads the lake; bad shares are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from guichet.custodian import LocalCustodian, read_encrypted_parquet, write_encrypted_parquet
from tests.conftest import run_cli


def test_recovered_custodian_reads_the_lake(tmp_path: Path) -> None:
    home = tmp_path / "cust"
    assert run_cli(["custodian", "init", "--custodian-home", str(home)]).code == 0
    dk = LocalCustodian(home).new_data_key("lake")
    path = tmp_path / "lake.parquet"
    write_encrypted_parquet(pa.table({"x": [7]}), path, dk.key)
    res = run_cli(["custodian", "escrow", "--shares", "3", "--threshold", "2", "--out", str(tmp_path / "shares"),
                   "--custodian-home", str(home), "--json"])
    assert res.code == 0, res.stderr
    shares = sorted((tmp_path / "shares").glob("share-*.json"))
    assert len(shares) == 3
    # one share is not enough; a tampered share is refused; nothing is written
    res = run_cli(["custodian", "recover", "--share", str(shares[0]), "--custodian-home", str(tmp_path / "r0")])
    assert res.code == 2 and not (tmp_path / "r0").exists()
    data = json.loads(shares[1].read_text())
    data["y"] = format(int(data["y"], 16) + 1, "x")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    bad.chmod(0o600)
    res = run_cli(["custodian", "recover", "--share", str(shares[0]), "--share", str(bad),
                   "--custodian-home", str(tmp_path / "r1")])
    assert res.code == 2 and "integrity" in res.stderr and not (tmp_path / "r1").exists()
    res = run_cli(["custodian", "recover", "--share", str(shares[0]), "--share", str(shares[2]),
                   "--custodian-home", str(tmp_path / "r2"), "--json"])
    assert res.code == 0, res.stderr
    recovered = LocalCustodian(tmp_path / "r2")
    assert read_encrypted_parquet(path, recovered.unwrap(dk.key_id, dk.wrapped)).column("x").to_pylist() == [7]
    assert recovered.keys.domain_key("snds").key == LocalCustodian(home).keys.domain_key("snds").key
