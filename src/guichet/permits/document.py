"""The permit document (EHDS Art 68): its canonical form, its signed envelope and their verification. Pure.

The document is a JSON object described by ``schemas/permit.schema.json`` (``format`` ``guichet.permit``,
``schema_version`` 1). Its canonical serialisation is JSON with sorted keys, no spaces, UTF-8 and no floats
(amounts are integer cents), so that the same document always gives the same bytes. A signed file is
``{"permit": DOCUMENT, "signature": {"algorithm", "key_id", "public_key", "value"}}``, the signature being
Ed25519 over the canonical bytes of ``permit``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from guichet.permits.signing import ALGORITHM, SigningKey, key_id_of, verify_signature

FORMAT = "guichet.permit"
SCHEMA_VERSION = 1
SCHEMA_FILE = "permit.schema.json"
REQUIRED = ("format", "schema_version", "id", "revision", "issued_at", "hub", "application", "holder", "people",
            "purpose", "legal_basis", "data", "population", "pseudonymisation", "validity", "tools", "resources",
            "fees", "output_conditions", "opt_out_exceptions", "amendments", "revocation")


def schema_text() -> str:
    """The published JSON Schema of a signed permit file."""
    return resources.files("guichet.permits").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")


def _no_floats(value: Any, where: str = "permit") -> None:
    if isinstance(value, float):
        raise ValueError(f"{where}: a permit holds no floating-point numbers (amounts are integer cents)")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys are strings")
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8 (not ASCII-escaped), no floats."""
    _no_floats(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sign_document(document: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The signed envelope of a document, as ``permit export`` writes it."""
    pub = key.public
    return {"permit": document,
            "signature": {"algorithm": ALGORITHM, "key_id": pub.key_id, "public_key": pub.public_key,
                          "value": key.sign(canonical(document))}}


def dump_signed(envelope: dict[str, Any]) -> str:
    """The text of a signed file: readable (indented); verification re-canonicalises the document."""
    return json.dumps(envelope, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Verification:
    valid: bool
    message: str
    permit_id: str | None = None
    revision: int | None = None
    key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "message": self.message, "permit": self.permit_id, "revision": self.revision,
                "key_id": self.key_id}


def _bad(message: str, **kw: Any) -> Verification:
    return Verification(False, message, **kw)


def verify_envelope(data: Any, expected_key_id: str | None = None) -> Verification:
    """Check a signed permit: its shape, that the key id is the public key's fingerprint, that the signature
    holds over the document's canonical bytes, and (when given) that the key is the one expected."""
    if not isinstance(data, dict) or set(data) != {"permit", "signature"}:
        return _bad("not a signed permit: expected exactly the keys 'permit' and 'signature'")
    doc, sig = data["permit"], data["signature"]
    if not isinstance(doc, dict) or not isinstance(sig, dict):
        return _bad("not a signed permit: 'permit' and 'signature' must be objects")
    pid = doc.get("id") if isinstance(doc.get("id"), str) else None
    rev = doc.get("revision") if isinstance(doc.get("revision"), int) else None
    if doc.get("format") != FORMAT or doc.get("schema_version") != SCHEMA_VERSION:
        return _bad(f"not a {FORMAT} document of schema version {SCHEMA_VERSION}", permit_id=pid, revision=rev)
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        return _bad(f"permit {pid}: field {missing[0]!r} is missing", permit_id=pid, revision=rev)
    fields = {k: v for k in ("algorithm", "key_id", "public_key", "value") if isinstance(v := sig.get(k), str)}
    if len(fields) != 4:
        return _bad("signature: algorithm, key_id, public_key and value are required strings", permit_id=pid, revision=rev)
    if fields["algorithm"] != ALGORITHM:
        return _bad(f"signature: algorithm must be {ALGORITHM}", permit_id=pid, revision=rev)
    kid = fields["key_id"]
    try:
        raw = base64.b64decode(fields["public_key"], validate=True)
    except (binascii.Error, ValueError):
        return _bad("signature: the public key is not base64", permit_id=pid, revision=rev, key_id=kid)
    if len(raw) != 32 or key_id_of(raw) != kid:
        return _bad("signature: the key id is not the fingerprint of the public key", permit_id=pid, revision=rev,
                    key_id=kid)
    if expected_key_id is not None and kid != expected_key_id:
        return _bad(f"signed with key {kid}, not with the expected key {expected_key_id}", permit_id=pid,
                    revision=rev, key_id=kid)
    try:
        message = canonical(doc)
    except ValueError as exc:
        return _bad(str(exc), permit_id=pid, revision=rev, key_id=kid)
    if not verify_signature(fields["public_key"], fields["value"], message):
        return _bad(f"permit {pid}: the signature does not hold (the document was altered or signed with another key)",
                    permit_id=pid, revision=rev, key_id=kid)
    return Verification(True, f"permit {pid} revision {rev}: signature valid (key {kid})", pid, rev, kid)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k[:40])
        out[k] = v
    return out


def verify_file(path: Path, expected_key_id: str | None = None) -> Verification:
    """Verify a signed permit file; every failure is a one-line message (never an exception)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _bad(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})")
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        return _bad(f"{path}: not JSON (line {exc.lineno}, column {exc.colno})")
    except _DuplicateKey as exc:
        return _bad(f"{path}: the key {exc.args[0]!r} appears twice in one object (a reader could see either value)")
    return verify_envelope(data, expected_key_id)
