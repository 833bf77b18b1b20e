"""The permit document: canonical form, signature, verification of a tampered or malformed file, schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guichet.permits.document import REQUIRED, canonical, dump_signed, schema_text, sign_document, verify_envelope, verify_file
from guichet.permits.signing import SigningKey
from tests.permit_support import sample_document


@pytest.fixture
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


def test_canonical_form_is_sorted_compact_utf8_and_stable() -> None:
    a = {"b": 1, "a": {"d": "é", "c": [2, 1]}}
    b = {"a": {"c": [2, 1], "d": "é"}, "b": 1}
    assert canonical(a) == canonical(b) == '{"a":{"c":[2,1],"d":"é"},"b":1}'.encode()
    with pytest.raises(ValueError, match="floating-point"):
        canonical({"fee": 1.5})


def test_a_signed_permit_verifies_and_matches_the_published_schema(key: SigningKey) -> None:
    env = sign_document(sample_document(), key)
    assert verify_envelope(env).valid
    assert verify_envelope(env, expected_key_id=key.public.key_id).valid
    import jsonschema  # imported here: with the notebook extra its import takes 1.7 s (collection)
    jsonschema.Draft202012Validator(json.loads(schema_text())).validate(env)
    assert env["signature"]["key_id"] == key.public.key_id and env["signature"]["key_id"].startswith("ed25519:")


def test_the_schema_names_every_field_the_issue_lists() -> None:
    schema = json.loads(schema_text())
    props = schema["$defs"]["permit"]["properties"]
    assert set(schema["$defs"]["permit"]["required"]) == set(REQUIRED)
    for field in ("data", "population", "pseudonymisation", "purpose", "legal_basis", "people", "validity", "tools",
                  "resources", "fees", "output_conditions", "opt_out_exceptions"):
        assert field in props
    assert {"categories", "products", "tables", "variables"} <= set(props["data"]["properties"])
    assert {"rule_set", "rounding", "models_may_leave"} <= set(props["output_conditions"]["properties"])


@pytest.mark.parametrize("change", [
    lambda d: d["people"].append({"name": "mallory", "role": "member", "attested_until": None}),
    lambda d: d["validity"].update(end="2030-12-31"),
    lambda d: d["data"]["variables"].append({"table": "IR_BEN_R", "variable": "BEN_NIR_PSA"}),
    lambda d: d["output_conditions"].update(models_may_leave=True),
    lambda d: d["fees"].update(total_cents=1),
    lambda d: d.update(revision=2),
])
def test_a_tampered_permit_fails(key: SigningKey, change: Callable[[dict[str, Any]], None], tmp_path: Path) -> None:
    env = sign_document(sample_document(), key)
    change(env["permit"])
    result = verify_envelope(env)
    assert not result.valid and "does not hold" in result.message
    path = tmp_path / "p.json"
    path.write_text(dump_signed(env), encoding="utf-8")
    assert not verify_file(path).valid


def test_a_permit_resigned_with_another_key_fails_against_the_hub_key(key: SigningKey) -> None:
    other = SigningKey(Ed25519PrivateKey.generate())
    forged = sign_document(sample_document(), other)
    assert verify_envelope(forged).valid  # consistent in itself...
    res = verify_envelope(forged, expected_key_id=key.public.key_id)  # ...but not the hub's key
    assert not res.valid and "expected key" in res.message
    # claiming the hub's key id with another public key is caught without being told the key
    forged["signature"]["key_id"] = key.public.key_id
    assert "fingerprint" in verify_envelope(forged).message
    # the hub's public key with another key's signature
    forged["signature"]["public_key"] = key.public.public_key
    assert not verify_envelope(forged).valid


@pytest.mark.parametrize(("text", "expected"), [
    ("not json", "not JSON"),
    ("[]", "expected exactly"),
    ('{"permit": {}, "signature": {}}', "schema version"),
    ('{"permit": {"a": 1, "a": 2}, "signature": {}}', "appears twice"),
])
def test_malformed_files_fail_with_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    res = verify_file(path)
    assert not res.valid and expected in res.message and "\n" not in res.message


def test_missing_field_bad_signature_encoding_and_float(key: SigningKey) -> None:
    env = sign_document(sample_document(), key)
    broken = json.loads(json.dumps(env))
    del broken["permit"]["fees"]
    assert "'fees' is missing" in verify_envelope(broken).message
    broken = json.loads(json.dumps(env))
    broken["signature"]["value"] = "***"
    assert not verify_envelope(broken).valid
    broken = json.loads(json.dumps(env))
    broken["permit"]["resources"]["cpu"] = 4.0
    assert "floating-point" in verify_envelope(broken).message
    assert not verify_file(Path("/nonexistent/permit.json")).valid
