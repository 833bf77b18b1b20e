"""Signed checkpoints make a tail cut in the database and the files together detectable.

Every attack happens after ``guichet audit checkpoint``: edits, deletions, insertions, reorderings and the
truncation of the tail, in the database, in the files and in both; ``guichet audit verify`` exits 1 and
names the first bad event. A checkpoint signed with another key is refused; the custodian's signing route
needs a token of the right kind over HTTP; an export bundle verifies standalone and fails when altered.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from guichet.accounts import services as accounts
from guichet.audit.checkpoint import SignedCheckpoint, key_id_of, signed_bytes
from guichet.audit.mirror import mirror_path
from guichet.custodian.auditkey import LATEST_FILE
from guichet.custodian.home import CustodianHome, write_json_private
from guichet.custodian.tokens import issue_token
from guichet.governance import Actor
from guichet.hub import Hub
from tests.conftest import make_hub, run_cli
from tests.custodian_fixtures import Server, custodian_server  # noqa: F401
from tests.security.test_audit_tampering import (
    _db_delete,
    _db_edit,
    _db_insert,
    _db_reorder,
    _file_delete,
    _file_edit,
    _file_insert,
    _file_reorder,
)

OP = Actor("operator", frozenset({"operator"}), strong_auth=True)


@pytest.fixture
def signed_hub(tmp_path: Path) -> Hub:
    """A hub with a few events and a checkpoint signed over all of them."""
    hub = make_hub(tmp_path)
    for i in range(6):
        accounts.add_user(hub, OP, username=f"user{i}", roles=["researcher"], org="Lab")
    r = run_cli(["audit", "checkpoint", "--home", str(hub.home), "--json"])
    assert r.code == 0, r.stderr
    return hub


def _verify(hub: Hub) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = run_cli(["audit", "verify", "--home", str(hub.home), "--json"])
    assert r.stdout, r.stderr
    return r.code, json.loads(r.stdout)


def _checkpoint_seq(hub: Hub) -> int:
    return int(json.loads((hub.home.parent / "custodian" / LATEST_FILE).read_text())["seq"])


def _cut_tail(hub: Hub, keep: int, files: bool, database: bool) -> None:
    """Remove the events after ``keep`` and roll the head back, as a forger with write access would."""
    if database:
        with hub.store.write_engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
            digest = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :k"), {"k": keep}).scalar_one()
            conn.execute(text("UPDATE audit_head SET seq = :k, hash = :h WHERE id = 1"), {"k": keep, "h": digest})
    if files:
        path = mirror_path(hub.audit_dir)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:keep]), encoding="utf-8")


def test_a_signed_untouched_chain_verifies_with_its_checkpoint(signed_hub: Hub) -> None:
    code, report = _verify(signed_hub)
    assert code == 0 and report["ok"], report
    cp = report["checkpoint"]
    assert cp["signature_ok"] and cp["seq"] == _checkpoint_seq(signed_hub) and cp["seq"] < report["events"]


def test_cutting_the_tail_in_both_copies_after_a_checkpoint_is_detected(signed_hub: Hub) -> None:
    seq = _checkpoint_seq(signed_hub)
    _cut_tail(signed_hub, seq - 2, files=True, database=True)
    code, report = _verify(signed_hub)
    assert code == 1 and not report["ok"]
    bad = report["first_bad"]
    assert bad["where"] == "checkpoint" and bad["seq"] == seq - 1, bad


def test_cutting_only_events_after_the_checkpoint_from_both_is_not_claimed_as_detected(signed_hub: Hub) -> None:
    """What a checkpoint covers is its count: the events after it are protected by the next one."""
    seq = _checkpoint_seq(signed_hub)
    _cut_tail(signed_hub, seq, files=True, database=True)
    code, report = _verify(signed_hub)
    assert code == 0, report
    # ...once a later checkpoint covers new events, cutting them is detected and nothing more is signed.
    accounts.add_user(signed_hub, OP, username="late", roles=["researcher"], org="Lab")
    assert run_cli(["audit", "checkpoint", "--home", str(signed_hub.home)]).code == 0
    assert _checkpoint_seq(signed_hub) == seq + 1
    _cut_tail(signed_hub, seq, files=True, database=True)
    code, report = _verify(signed_hub)
    assert code == 1 and report["first_bad"]["seq"] == seq + 1
    r = run_cli(["audit", "checkpoint", "--home", str(signed_hub.home)])
    assert r.code != 0 and "does not verify" in r.stderr


@pytest.mark.parametrize(("files", "database", "where"),
                         [(True, False, "files"), (False, True, "database")], ids=["files", "database"])
def test_cutting_the_tail_in_one_copy_is_detected(signed_hub: Hub, files: bool, database: bool, where: str) -> None:
    seq = _checkpoint_seq(signed_hub)
    _cut_tail(signed_hub, seq - 2, files=files, database=database)
    code, report = _verify(signed_hub)
    assert code == 1 and report["first_bad"]["where"] == where and report["first_bad"]["seq"] == seq - 1


def test_rewriting_the_whole_chain_consistently_in_both_copies_is_detected(signed_hub: Hub) -> None:
    """A forger who recomputes every hash of both copies after editing event 3 still cannot match the
    signed head."""
    from guichet.audit.chain import EventFields, event_hash, mirror_line
    from guichet.audit.log import row_fields
    from guichet.store.models import AuditEvent

    with signed_hub.store.read() as s:
        rows = [(row_fields(r), r.prev_hash, r.hash) for r in s.query(AuditEvent).order_by(AuditEvent.seq)]
    prev = rows[1][2]
    new: list[tuple[EventFields, str, str]] = list(rows[:2])
    for fields, _p, _h in rows[2:]:
        if fields.seq == 3:
            fields = EventFields(**{**fields.to_dict(), "actor": "eve"})
        digest = event_hash(prev, fields)
        new.append((fields, prev, digest))
        prev = digest
    with signed_hub.store.write_engine.begin() as conn:
        for fields, p, h in new[2:]:
            conn.execute(text("UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"a": fields.actor, "p": p, "h": h, "s": fields.seq})
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
    mirror_path(signed_hub.audit_dir).write_text("".join(mirror_line(f, p, h) for f, p, h in new), encoding="utf-8")
    code, report = _verify(signed_hub)
    assert code == 1 and report["first_bad"]["where"] == "checkpoint"
    assert report["first_bad"]["seq"] == _checkpoint_seq(signed_hub)


@pytest.mark.parametrize(("attack", "where"), [
    (_db_edit, "database"), (_db_delete, "database"), (_db_insert, "database"), (_db_reorder, "database"),
    (_file_edit, "files"), (_file_delete, "files"), (_file_insert, "files"), (_file_reorder, "files"),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_tampering_after_a_checkpoint_is_still_detected(signed_hub: Hub, attack: Callable[[Hub], int],
                                                         where: str) -> None:
    expected = attack(signed_hub)
    code, report = _verify(signed_hub)
    assert code == 1 and report["first_bad"]["where"] == where and report["first_bad"]["seq"] == expected


def _forge(seq: int, head: str) -> tuple[SignedCheckpoint, str]:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)).decode()
    key_id = key_id_of(public)
    at = "2026-12-01T00:00:00+00:00"
    sig = base64.b64encode(key.sign(signed_bytes(seq, head, at, key_id))).decode()
    return SignedCheckpoint(seq, head, at, key_id, sig), public


def test_a_checkpoint_signed_with_another_key_is_refused(signed_hub: Hub) -> None:
    home = CustodianHome(signed_hub.home.parent / "custodian")
    real = json.loads((home.path / LATEST_FILE).read_text())
    # A forger replaces the custodian's latest checkpoint by one of a shorter chain, signed with their key.
    _cut_tail(signed_hub, 3, files=True, database=True)
    with signed_hub.store.read() as s:
        head = s.execute(text("SELECT hash FROM audit_events WHERE seq = 3")).scalar_one()
    forged, _public = _forge(3, head)
    write_json_private(home.path / LATEST_FILE, forged.to_dict())
    code, report = _verify(signed_hub)
    assert code == 1 and report["first_bad"]["where"] == "checkpoint"
    assert "signature does not verify" in report["first_bad"]["problem"]
    # ...and an edited count under the real key id and signature fails the same way.
    write_json_private(home.path / LATEST_FILE, {**real, "seq": 3, "head": head})
    code, report = _verify(signed_hub)
    assert code == 1 and "signature does not verify" in report["first_bad"]["problem"]


def _post(url: str, path: str, token: str | None, body: dict[str, object] | None = None) -> int:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url + path, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_signing_a_checkpoint_over_http_needs_a_hub_token(custodian_server: Server) -> None:  # noqa: F811
    home = CustodianHome(custodian_server.home)
    body = {"seq": 1, "head": "a" * 64}
    assert _post(custodian_server.url, "/v1/audit-checkpoint", None, body) == 401
    assert _post(custodian_server.url, "/v1/audit-checkpoint", "gcu_0_wrong", body) == 403
    producer = issue_token(home, "prod", kind="producer", domain="snds")
    assert _post(custodian_server.url, "/v1/audit-checkpoint", producer, body) == 403
    assert not (home.path / LATEST_FILE).exists()
    hub = issue_token(home, "hub", kind="hub")
    assert _post(custodian_server.url, "/v1/audit-checkpoint", hub, body) == 200
    assert _post(custodian_server.url, "/v1/audit-checkpoint", hub, {"seq": 0, "head": "a" * 64}) == 409
    from guichet.custodian.http_client import HttpCustodian

    checkpoint, public = HttpCustodian(custodian_server.url, token=hub).latest_audit_checkpoint()
    from guichet.audit.checkpoint import signature_ok

    assert checkpoint is not None and checkpoint.seq == 1 and signature_ok(checkpoint, public)
    calls = [c["operation"] for c in home.calls()]
    assert "audit-checkpoint-sign" in calls and "audit-checkpoint-latest" in calls


# --- export bundles ---------------------------------------------------------------------------------

def _export(hub: Hub, out: Path) -> None:
    r = run_cli(["audit", "export", "--home", str(hub.home), "--from", "2000-01-01", "--to", "2100-01-01",
                 "--out", str(out), "--json"])
    assert r.code == 0, r.stderr


def _standalone(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    script = folder / "verify_bundle.py"
    return subprocess.run([sys.executable, "-I", str(script), str(folder), *extra], capture_output=True, text=True,
                          timeout=120, cwd=folder)


def test_an_export_bundle_verifies_without_the_hub(signed_hub: Hub, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    _export(signed_hub, out)
    shutil.rmtree(signed_hub.home)  # no hub: the bundle stands alone
    done = _standalone(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the last 1 after the latest checkpoint" in done.stdout  # the checkpoint's own event
    key = (out / "audit-public-key.txt").read_text().strip()
    assert _standalone(out, "--public-key", key).returncode == 0
    other = _forge(1, "0" * 64)[1]
    assert _standalone(out, "--public-key", other).returncode == 1
    r = run_cli(["audit", "verify", "--bundle", str(out), "--json"])
    assert r.code == 0 and json.loads(r.stdout)["ok"]


def _edit_line(path: Path, index: int, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    obj = json.loads(lines[index])
    change(obj)
    lines[index] = json.dumps(obj, sort_keys=True) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def _drop_line(path: Path, index: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[index]
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("alter", [
    lambda out: _edit_line(out / "events.jsonl", 2, lambda o: o.update(actor="eve")),
    lambda out: _drop_line(out / "events.jsonl", 3),
    lambda out: (_drop_line(out / "events.jsonl", -1), _drop_line(out / "events.jsonl", -1)),
    lambda out: _edit_line(out / "checkpoints.jsonl", 0, lambda o: o.update(seq=2)),
    lambda out: (out / "audit-public-key.txt").write_text(_forge(1, "0" * 64)[1] + "\n"),
], ids=["edit-event", "delete-event", "cut-tail", "edit-checkpoint", "swap-key"])
def test_an_altered_bundle_fails(signed_hub: Hub, tmp_path: Path, alter: Callable[[Path], None]) -> None:
    out = tmp_path / "bundle"
    _export(signed_hub, out)
    alter(out)
    done = _standalone(out)
    assert done.returncode == 1 and "BROKEN" in done.stdout, done.stdout + done.stderr
    assert run_cli(["audit", "verify", "--bundle", str(out)]).code == 1


def test_only_operators_sign_and_only_operators_and_auditors_verify_or_export(signed_hub: Hub, tmp_path: Path) -> None:
    accounts.add_user(signed_hub, OP, username="rita", roles=["researcher"], org="Lab")
    accounts.add_user(signed_hub, OP, username="adam", roles=["auditor"], org="Authority")
    calls_file = signed_hub.home.parent / "custodian" / "logs" / "calls.jsonl"
    before = calls_file.read_text()
    home = ["--home", str(signed_hub.home)]
    assert run_cli(["audit", "checkpoint", *home, "--as", "rita"]).code == 2
    assert run_cli(["audit", "checkpoint", *home, "--as", "adam"]).code == 2
    assert run_cli(["audit", "verify", *home, "--as", "rita"]).code == 2
    assert run_cli(["audit", "export", *home, "--as", "rita", "--from", "2000-01-01", "--to", "2100-01-01",
                    "--out", str(tmp_path / "x")]).code == 2
    assert calls_file.read_text() == before  # refused before the custodian was asked anything
    assert not (tmp_path / "x").exists()
    assert run_cli(["audit", "verify", *home, "--as", "adam"]).code == 0
    assert run_cli(["audit", "export", *home, "--as", "adam", "--from", "2000-01-01", "--to", "2100-01-01",
                    "--out", str(tmp_path / "y")]).code == 0
    with signed_hub.store.read() as s:
        refused = s.execute(text("SELECT count(*) FROM audit_events WHERE outcome = 'refused' "
                                 "AND action LIKE 'audit.%'")).scalar_one()
    assert refused == 4


def test_a_tail_cut_after_a_checkpoint_is_detected_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    hub = make_hub(tmp_path, db_url=pg_url)
    try:
        for i in range(4):
            accounts.add_user(hub, OP, username=f"user{i}", roles=["researcher"], org="Lab")
        env = {"GUICHET_DB_URL": pg_url}
        assert run_cli(["audit", "checkpoint", "--home", str(hub.home)], env=env).code == 0
        seq = _checkpoint_seq(hub)
        _cut_tail(hub, seq - 1, files=True, database=True)
        r = run_cli(["audit", "verify", "--home", str(hub.home), "--json"], env=env)
        report = json.loads(r.stdout)
        assert r.code == 1 and report["first_bad"] == {**report["first_bad"], "where": "checkpoint", "seq": seq}
    finally:
        hub.close()


def test_the_audit_page_and_api_name_a_cut_tail_after_a_checkpoint(signed_hub: Hub) -> None:
    from fastapi.testclient import TestClient

    from guichet.web import create_app
    from tests.web_support import add_person, sign_in

    operator = add_person(signed_hub, signed_hub.config.operator, "operator")
    seq = _checkpoint_seq(signed_hub)
    _cut_tail(signed_hub, seq - 1, files=True, database=True)
    with TestClient(create_app(signed_hub.config), raise_server_exceptions=False, base_url="http://testserver") as c:
        sign_in(c, operator)
        page = c.get("/audit")
        api = c.get("/api/audit/verify").json()
    assert page.status_code == 200 and "point de contrôle signé" in page.text  # French by default
    assert api["ok"] is False and api["problems"][0]["where"] == "checkpoint" and api["problems"][0]["seq"] == seq


def test_the_scheduler_signs_one_checkpoint_a_day(tmp_path: Path) -> None:
    from guichet.audit.checkpoint import published

    hub = make_hub(tmp_path)
    for _ in range(2):
        r = run_cli(["jobs", "run", "--home", str(hub.home), "--job", "audit.checkpoint", "--json"])
        assert r.code == 0, r.stderr
    assert len(published(hub.audit_dir)) == 1
    code, report = _verify(hub)
    assert code == 0 and report["checkpoint"]["signature_ok"]
