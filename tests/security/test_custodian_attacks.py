"""Attacks on the custodian that must fail: plain-hash guessing, stolen files, tokens and their scopes,
oversized bodies and batches, purposes that are not in the grammar, leaks in logs."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from guichet.custodian import LocalCustodian, write_encrypted_parquet
from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.home import CustodianHome
from guichet.custodian.http_client import HttpCustodian
from guichet.custodian.keys import Keyring, read_domain_key_file
from guichet.custodian.server import _ipc
from guichet.custodian.tokens import issue_token
from guichet.errors import BadInput, Refused
from tests.conftest import run_cli
from tests.custodian_fixtures import Server, custodian_server  # noqa: F401

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
    token = issue_token(CustodianHome(custodian_server.home), "hub", kind="hub")
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
    token = issue_token(home, "hub", kind="hub")
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
    c.pseudonymise(pa.array([ps.encode(b"\x01" * 15)]), "hub", "deposit:IR_BEN_R")
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


# -- the HTTP custodian's gate: tokens with kinds and scopes, bounded bodies and batches ----------------------

NIR = nirs.with_key("1850575123456")
L1 = ps.encode(b"\x01" * 15)


def _send(url: str, method: str, path: str, token: str | None = None, body: bytes = b"",
          declared: int | None = None, authorization: str | None = None) -> tuple[int, dict[str, object]]:
    """One raw request; ``declared`` announces a Content-Length without sending the body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        conn.putrequest(method, path)
        if authorization or token:
            conn.putheader("Authorization", authorization or f"Bearer {token}")
        conn.putheader("Content-Length", str(len(body) if declared is None else declared))
        conn.endheaders()
        if declared is None and body:
            conn.send(body)
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("content-type") or ""
        return resp.status, json.loads(raw) if ctype.startswith("application/json") else {}
    finally:
        conn.close()


def _send_chunked(url: str, path: str, token: str, total: int, chunk: int = 64 * 1024) -> int:
    """POST ``total`` bytes with chunked transfer (no declared length); the status answered."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            for _ in range(total // chunk):
                conn.send(b"%x\r\n" % chunk + b"x" * chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except OSError:  # the custodian answered and closed before the end: read its answer
            pass
        return conn.getresponse().status
    finally:
        conn.close()


def _hub_routes(home: CustodianHome) -> list[tuple[str, str, bytes]]:
    """Every route the hub uses, each with a body the hub would send."""
    keyring = Keyring(home)
    dk = keyring.new_data_key("lake")
    keyring.new_data_key("project:p-1")
    return [
        ("GET", "/v1/status", b""),
        ("POST", "/v1/pseudonymise?level=hub&purpose=deposit:X", _ipc(pa.table({"value": [L1]}))),
        ("POST", "/v1/pseudonymise?level=project&purpose=extract:p-1&project=p-1", _ipc(pa.table({"value": [1]}))),
        ("POST", "/v1/optout-pseudonyms", json.dumps({"nir": NIR, "birth_date": "1985-05-03"}).encode()),
        ("POST", "/v1/data-keys", b'{"purpose": "lake"}'),
        ("POST", "/v1/unwrap", json.dumps({"key_id": dk.key_id, "wrapped": dk.wrapped}).encode()),
        ("POST", "/v1/shred", b'{"project": "p-1"}'),
        ("POST", "/v1/rotation", b""),
        ("POST", "/v1/rotation/rot-0/complete", b""),
        ("POST", "/v1/rotation/rot-0/abort", b""),
        ("POST", "/v1/audit-checkpoint", json.dumps({"seq": 1, "head": "a" * 64}).encode()),
        ("GET", "/v1/audit-checkpoint", b""),
    ]


def test_a_producer_token_is_refused_on_every_hub_route_whatever_its_body(custodian_server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    token = issue_token(home, "atih", kind="producer", domain="snds")
    for method, path, good in _hub_routes(home):
        bare = path.split("?")[0]
        for target, body in ((path, good), (bare, b""), (bare, b"\xff{not json"), (bare + "?level=x", good)):
            status, answer = _send(custodian_server.url, method, target, token, body)
            assert status == 403, (method, target, status)
            assert "producer" in str(answer["error"])
    assert (home.path / "projects" / "p-1.key").exists() and not Keyring(home).shredded()
    assert home.state()["hub_generation"] == 1 and home.state().get("rotation") is None
    assert not list((home.path / "correspondence").iterdir())
    calls = home.calls()
    assert calls and all(x["caller"] == "atih" and x["outcome"] == "refused" for x in calls)
    assert NIR not in (home.path / "logs" / "calls.jsonl").read_text()
    # its own domain's key, and that one only
    status, answer = _send(custodian_server.url, "GET", "/v1/domain-key?domain=snds", token)
    assert status == 200 and base64.b64decode(str(answer["key"])) == Keyring(home).domain_key("snds").key
    assert _send(custodian_server.url, "GET", "/v1/domain-key?domain=other", token)[0] == 403
    # a path that names no route is logged as such, never as the path (which could carry anything)
    assert _send(custodian_server.url, "POST", f"/v1/{NIR}?nir={NIR}", token, b"{}")[0] == 404
    last = home.calls()[-1]
    assert (last["caller"], last["operation"], last["outcome"]) == ("atih", "unknown-route", "not-found")
    assert NIR not in (home.path / "logs" / "calls.jsonl").read_text()


def test_a_hub_token_gets_no_level1_key(custodian_server, tmp_path: Path) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    hub = issue_token(home, "hub", kind="hub")
    for query in ("?domain=snds", ""):
        assert _send(custodian_server.url, "GET", "/v1/domain-key" + query, hub)[0] == 403
    (tmp_path / "hub.token").write_text(hub)
    os.chmod(tmp_path / "hub.token", 0o600)
    res = run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(tmp_path / "k"),
                   "--custodian-url", custodian_server.url, "--token-file", str(tmp_path / "hub.token")])
    assert res.code == 2 and "may not call domain-key" in res.stderr and not (tmp_path / "k").exists()
    assert home.state()["domains"] == []


def test_a_producer_fetches_its_sealed_key_file_by_the_cli(custodian_server, tmp_path: Path) -> None:  # noqa: F811
    home = custodian_server.home
    res = run_cli(["custodian", "token", "--caller", "atih", "--kind", "producer", "--domain", "snds",
                   "--out", str(tmp_path / "atih.token"), "--custodian-home", str(home)])
    assert res.code == 0, res.stderr
    res = run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(tmp_path / "snds.key"),
                   "--custodian-url", custodian_server.url, "--token-file", str(tmp_path / "atih.token")])
    assert res.code == 0, res.stderr
    assert read_domain_key_file(tmp_path / "snds.key").key == Keyring(CustodianHome(home)).domain_key("snds").key


def test_token_kinds_are_required_and_checked(tmp_path: Path) -> None:
    home = tmp_path / "c"
    CustodianHome(home).init()
    base = ["custodian", "token", "--caller", "x", "--custodian-home", str(home)]
    for extra in ([], ["--kind", "operator"], ["--kind", "producer"], ["--kind", "hub", "--domain", "snds"],
                  ["--kind", "producer", "--domain", "../x"]):
        res = run_cli([*base, *extra, "--out", str(tmp_path / "t")])
        assert res.code == 2 and not (tmp_path / "t").exists(), extra
    assert json.loads((home / "tokens.json").read_text())["tokens"] == {}


def test_an_old_token_without_kind_is_refused_with_what_to_do(custodian_server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    secret = "s" * 43
    old = {"caller": "hub", "sha256": hashlib.sha256(secret.encode()).hexdigest(), "created_at": "2026-01-01"}
    (home.path / "tokens.json").write_text(json.dumps({"tokens": {"0123456789abcdef": old}}))
    token = f"gcu_0123456789abcdef_{secret}"
    status, answer = _send(custodian_server.url, "GET", "/v1/status", token)
    assert status == 403 and "guichet custodian token" in str(answer["error"])
    with pytest.raises(Refused, match="issue a new one"):
        HttpCustodian(custodian_server.url, token=token).new_data_key("lake")
    res = run_cli(["custodian", "status", "--custodian-home", str(home.path)])
    assert res.code == 0 and "without kind: 1" in res.stdout


def test_no_token_or_a_wrong_one_is_refused_before_any_parameter_is_read(custodian_server) -> None:  # noqa: F811
    url, home = custodian_server.url, CustodianHome(custodian_server.home)
    real = issue_token(home, "hub", kind="hub")
    wrong = [("Bearer nope", 403), ("Bearer gcu_0123456789abcdef_" + "x" * 43, 403),
             ("Bearer " + real[:-3] + "xyz", 403), ("Basic abc", 401), (None, 401)]
    routes = [(m, p, b) for m, p, g in _hub_routes(home) for b in (g, b"", b"\xff")] + [
        ("POST", "/v1/pseudonymise", b""), ("POST", "/v1/pseudonymise?level=&purpose=", b"junk"),
        ("GET", "/v1/domain-key", b""), ("GET", "/v1/domain-key?domain=../../x", b""),
        ("POST", "/v1/nope", b""), ("GET", "/v1/pseudonymise", b""), ("DELETE", "/v1/shred", b"{}")]
    for method, path, body in routes:
        for header, code in wrong:
            status, _ = _send(url, method, path, body=body, authorization=header)
            assert status == code, (method, path, header, status)
    assert not list((home.path / "correspondence").iterdir()) and not Keyring(home).shredded()
    assert {x["caller"] for x in home.calls()} == {"?"}


def test_shredding_an_unknown_project_is_404_and_writes_no_tombstone(custodian_server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    hub = issue_token(home, "hub", kind="hub")
    for project in ("p-never", "p-2025-999"):
        status, answer = _send(custodian_server.url, "POST", "/v1/shred", hub, json.dumps({"project": project}).encode())
        assert status == 404 and answer["type"] == "NotFound"
    assert not (home.path / "projects" / "shredded.json").exists()
    assert _send(custodian_server.url, "POST", "/v1/data-keys", hub, b'{"purpose": "project:p-never"}')[0] == 200


def test_purposes_outside_the_grammar_are_refused(custodian_server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    hub = issue_token(home, "hub", kind="hub")
    body = _ipc(pa.table({"value": [L1]}))
    for query in ("level=hub&purpose=x", f"level=hub&purpose=deposit:{NIR}%20x", "level=hub&purpose=lake",
                  "level=project&purpose=extract:p-2&project=p-1", "level=project&purpose=extract:P1&project=P1",
                  "level=nir&purpose=deposit:X", "level=hub&level=project&purpose=deposit:X"):
        assert _send(custodian_server.url, "POST", "/v1/pseudonymise?" + query, hub, body)[0] == 400, query
    for purpose in ("lake/../x", "project:../../x", f"project:{NIR} x", "master"):
        assert _send(custodian_server.url, "POST", "/v1/data-keys", hub,
                     json.dumps({"purpose": purpose}).encode())[0] == 400, purpose
    assert not list((home.path / "correspondence").iterdir()) and not list((home.path / "projects").iterdir())
    assert NIR not in (home.path / "logs" / "calls.jsonl").read_text()


def test_an_oversize_batch_is_refused_and_never_joins_the_correspondence(custodian_server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    hub = issue_token(home, "hub", kind="hub")
    junk = [ps.encode(i.to_bytes(15, "big")) for i in range(500_001)]
    status, answer = _send(custodian_server.url, "POST", "/v1/pseudonymise?level=hub&purpose=deposit:X", hub,
                           _ipc(pa.table({"value": junk})))
    assert status == 400 and "at most 500000" in str(answer["error"])
    assert not list((home.path / "correspondence").iterdir())


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "small"
    CustodianHome(home).init()
    server = Server(home, "--max-batch", "10", "--max-body-mb", "1")
    yield server
    server.stop()


def test_bodies_are_bounded_before_they_are_read(custodian_server, small_server: Server) -> None:  # noqa: F811
    url, home = custodian_server.url, CustodianHome(custodian_server.home)
    hub = issue_token(home, "hub", kind="hub")
    producer = issue_token(home, "atih", kind="producer", domain="snds")
    huge = 10 * 1024**3  # announced, never sent: the answer comes without waiting for it
    path = "/v1/pseudonymise?level=hub&purpose=deposit:X"
    assert _send(url, "POST", path, declared=huge)[0] == 401
    assert _send(url, "POST", path, "gcu_0123456789abcdef_" + "x" * 43, declared=huge)[0] == 403
    assert _send(url, "POST", path, producer, declared=huge)[0] == 403
    assert _send(url, "POST", path, hub, declared=huge)[0] == 413
    assert _send(url, "POST", "/v1/unwrap", hub, declared=70 * 1024)[0] == 413  # JSON routes: 64 KiB
    assert _send(url, "POST", "/v1/data-keys", hub, b" " * (70 * 1024))[0] == 413
    assert any(x["outcome"] == "too-large" and x["caller"] == "hub" for x in home.calls())
    # the configured limits: 1 MiB bodies and 10 values a call, counted even without a declared length
    small = issue_token(CustodianHome(small_server.home), "hub", kind="hub")
    assert _send_chunked(small_server.url, path, small, 2 * 1024 * 1024) == 413
    assert _send(small_server.url, "POST", path, small, declared=1024 * 1024 + 1)[0] == 413
    client = HttpCustodian(small_server.url, token=small)
    assert len(client.pseudonymise(pa.array([L1] * 10), "hub", "deposit:X")) == 10
    with pytest.raises(BadInput, match="at most 10"):
        client.pseudonymise(pa.array([L1] * 11), "hub", "deposit:X")
