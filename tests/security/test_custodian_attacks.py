"""Attacks on the custodian that must fail: plain-hash guessing, stolen files, tokens, leaks in logs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from guichet.custodian import LocalCustodian, write_encrypted_parquet
from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.home import CustodianHome
from guichet.custodian.keys import Keyring
from guichet.custodian.server import issue_token
from guichet.errors import BadInput
from tests.conftest import run_cli
from tests.custodian_fixtures import custodian_server  # noqa: F401

NIRS = [nirs.with_key(f"1{y:02d}0575{i:06d}") for y in range(50, 60) for i in range(1, 21)]


def _plain_hashes(value: str) -> set[str]:
    out = set()
    for algo in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
        d = hashlib.new(algo, value.encode()).digest()
        out |= {d.hex(), d.hex().upper(), base64.b32encode(d).decode(), base64.b64encode(d).decode(),
                base64.urlsafe_b64encode(d).decode()}
    return out


def test_no_pseudonym_is_or_contains_a_plain_hash(tmp_path: Path) -> None:
    home = CustodianHome(tmp_path / "c")
    home.init()
    key = Keyring(home).domain_key("snds").key
    for n in NIRS:
        for p in (ps.level1_ano(key, n), ps.level1_psa(key, n, "1955-05-01", "1")):
            assert not any(p in h for h in _plain_hashes(n)), "a pseudonym is a plain hash of its NIR"


def test_stolen_lake_file_is_unreadable_without_the_custodian(tmp_path: Path) -> None:
    home = CustodianHome(tmp_path / "c")
    home.init()
    dk = LocalCustodian(home).new_data_key("quarantine")
    path = tmp_path / "quarantine.parquet"
    write_encrypted_parquet(pa.table({"BEN_NIR_PSA": ["AAAAAAAAAAAAAAAAA"], "x": [42]}), path, dk.key)
    raw = path.read_bytes()
    assert b"AAAAAAAAAAAAAAAAA" not in raw and b"BEN_NIR_PSA" not in raw  # footer and columns encrypted
    with pytest.raises(OSError):
        pq.read_table(path)
    import duckdb

    with pytest.raises(duckdb.Error):
        duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    other = CustodianHome(tmp_path / "other")
    other.init()
    with pytest.raises(BadInput):  # another custodian cannot unwrap it
        LocalCustodian(other).unwrap(dk.key_id, dk.wrapped)


def test_http_custodian_refuses_missing_and_wrong_tokens(custodian_server) -> None:  # noqa: F811
    url = custodian_server.url
    with urllib.request.urlopen(url + "/healthz") as r:  # noqa: S310
        assert r.status == 200
    token = issue_token(CustodianHome(custodian_server.home), "hub")
    cases = [(None, 401), ("Bearer nope", 403), ("Bearer " + token[:-2] + "xx", 403), ("Basic abc", 401)]
    for path in ("/v1/status", "/v1/pseudonymise?level=hub&purpose=x", "/v1/data-keys"):
        for header, code in cases:
            req = urllib.request.Request(url + path, method="GET" if path == "/v1/status" else "POST", data=None  # noqa: S310
                                         if path == "/v1/status" else b"{}")
            if header:
                req.add_header("Authorization", header)
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req)  # noqa: S310
            assert err.value.code == code
            err.value.close()
    req = urllib.request.Request(url + "/v1/status", headers={"Authorization": "Bearer " + token})  # noqa: S310
    with urllib.request.urlopen(req) as r:  # noqa: S310
        assert json.loads(r.read())["caller"] == "hub"


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    home = CustodianHome(tmp_path / "c")
    home.init()
    token = issue_token(home, "hub")
    stored = (home.path / "tokens.json").read_text()
    assert token not in stored and token.split("_", 2)[2] not in stored


def test_serve_refuses_non_loopback_without_tls(tmp_path: Path) -> None:
    CustodianHome(tmp_path / "c").init()
    res = run_cli(["custodian", "serve", "--custodian-home", str(tmp_path / "c"), "--host", "0.0.0.0"])  # noqa: S104
    assert res.code == 2 and "TLS is required" in res.stderr


def test_custodian_home_permissions_and_no_secret_in_logs_or_errors(tmp_path: Path) -> None:
    home = CustodianHome(tmp_path / "c")
    home.init()
    c = LocalCustodian(home)
    n = nirs.with_key("1850575123456")
    dk = c.new_data_key("lake")
    c.pseudonymise(pa.array([ps.encode(b"\x01" * 15)]), "hub", "deposit")
    with pytest.raises(BadInput) as err:
        c.optout_pseudonyms(n[:-2] + "00", "1985-05-03")
    assert n[:13] not in str(err.value)
    for root, dirs, files in os.walk(home.path):
        for d in dirs:
            assert (Path(root) / d).stat().st_mode & 0o777 == 0o700
        for f in files:
            assert (Path(root) / f).stat().st_mode & 0o777 == 0o600
    log = (home.path / "logs" / "calls.jsonl").read_text()
    assert base64.b64encode(dk.key).decode() not in log and dk.key.hex() not in log and n not in log
    os.chmod(home.path / "master.key", 0o644)
    with pytest.raises(Exception, match="0600"):
        LocalCustodian(home)


def test_nir_never_echoed_by_bad_input_cli(tmp_path: Path) -> None:
    res = run_cli(["init", "--home", str(tmp_path / "hub"), "--mode", "development"])
    assert res.code == 0
    bad = nirs.with_key("1850575123456")[:-2] + "00"
    res = run_cli(["optout", "add", "--nir", bad, "--birth-date", "1985-05-03", "--home", str(tmp_path / "hub")])
    assert res.code == 2 and bad not in res.stderr and bad[:13] not in res.stderr
    audit = "".join(p.read_text() for p in (tmp_path / "hub" / "audit").rglob("*") if p.is_file())
    assert bad[:13] not in audit
