"""``guichet permit verify`` with no hub (exit 0 valid, 1 not), ``user attest``, ``jobs run``."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guichet.hub import Hub
from guichet.permits.document import dump_signed, sign_document
from guichet.permits.signing import SigningKey, load_or_create_key
from tests.conftest import run_cli, run_cli_process
from tests.permit_support import sample_document


def test_verify_needs_no_hub_and_fails_a_tampered_file(tmp_path: Path, hub: Hub) -> None:
    key = load_or_create_key(hub.config)
    assert oct(((hub.home / "secrets" / "permit-signing.key").stat().st_mode) & 0o777) == "0o600"
    assert load_or_create_key(hub.config).public == key.public  # made once
    good = tmp_path / "permit.json"
    good.write_text(dump_signed(sign_document(sample_document(), key)), encoding="utf-8")
    res = run_cli_process(["permit", "verify", str(good)], cwd=tmp_path)  # no GUICHET_HOME, no --home
    assert res.code == 0, res.stderr
    assert "signature valid" in res.stdout
    res = run_cli(["permit", "verify", str(good), "--key-id", key.public.key_id, "--json"])
    assert res.code == 0 and json.loads(res.stdout)["valid"] is True

    data = json.loads(good.read_text())
    data["permit"]["validity"]["end"] = "2040-01-01"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    res = run_cli_process(["permit", "verify", str(bad)], cwd=tmp_path)
    assert res.code == 1 and len(res.stderr.strip().splitlines()) == 1 and "does not hold" in res.stderr
    other = SigningKey(Ed25519PrivateKey.generate())
    forged = tmp_path / "forged.json"
    forged.write_text(dump_signed(sign_document(sample_document(), other)), encoding="utf-8")
    res = run_cli(["permit", "verify", str(forged), "--key-id", key.public.key_id])
    assert res.code == 1 and "expected key" in res.stderr
    (tmp_path / "junk.json").write_text("{", encoding="utf-8")
    res = run_cli(["permit", "verify", str(tmp_path / "junk.json")])
    assert res.code == 1 and "not JSON" in res.stderr and "Traceback" not in res.stderr
    assert run_cli(["permit", "verify", str(tmp_path / "missing.json")]).code == 1


def test_schema_is_printed() -> None:
    res = run_cli(["permit", "schema"])
    assert res.code == 0 and json.loads(res.stdout)["$defs"]["permit"]["properties"]["format"]["const"] == "guichet.permit"


def test_attest_and_jobs_commands(hub: Hub) -> None:
    home = str(hub.home)
    assert run_cli(["user", "add", "alice", "--role", "researcher", "--org", "Inserm U1018", "--home", home]).code == 0
    res = run_cli(["user", "attest", "alice", "--until", "2099-01-01", "--home", home, "--json"])
    assert res.code == 2 and "at most" in res.stderr
    res = run_cli(["user", "attest", "alice", "--until", "2027-12-31", "--home", home, "--json"])
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["valid_until"] == "2027-12-31"
    res = run_cli(["user", "attest", "alice", "--until", "2027-12-31", "--as", "alice", "--home", home])
    assert res.code == 2 and "user.attest" in res.stderr
    res = run_cli(["jobs", "run", "--now", "2027-01-05", "--home", home, "--json"])
    assert res.code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["today"] == "2027-01-05" and {j["job"] for j in out["jobs"]} >= {"permits.expire", "notifications.deliver"}
    res = run_cli(["jobs", "list", "--home", home, "--json"])
    assert res.code == 0 and json.loads(res.stdout)["runs"][0]["today"] == "2027-01-05"
