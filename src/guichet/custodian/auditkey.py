"""The custodian's audit key: an Ed25519 key derived from the master secret (label ``audit/v1``), which
signs checkpoints of the hub's audit chain. The hub never holds it; it gets signatures and the public key.

The custodian keeps the latest checkpoint it signed in ``audit-checkpoint.json`` and every one in
``logs/audit-checkpoints.jsonl``; it refuses to sign a checkpoint that goes back (fewer events than the
last one) or that contradicts it (same count, another head): a hub whose tail was cut cannot get a
shorter chain signed.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guichet.audit.checkpoint import SignedCheckpoint, key_id_of, signed_bytes
from guichet.custodian.home import CustodianHome, derive, now_iso, write_json_private
from guichet.errors import BadInput, Conflict

AUDIT_KEY_LABEL = "audit/v1"
LATEST_FILE = "audit-checkpoint.json"
HISTORY_FILE = "audit-checkpoints.jsonl"
_HEX = frozenset("0123456789abcdef")


def _private(home: CustodianHome) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive(home.master(), AUDIT_KEY_LABEL))


def public_key(home: CustodianHome) -> str:
    """The audit public key, base64 of its 32 raw bytes."""
    raw = _private(home).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def latest(home: CustodianHome) -> SignedCheckpoint | None:
    path = home.path / LATEST_FILE
    if not path.exists():
        return None
    try:
        return SignedCheckpoint.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        raise BadInput(f"custodian home {home.path}: {LATEST_FILE} is damaged") from None


def check_head(seq: Any, head: Any) -> tuple[int, str]:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadInput("checkpoint: seq must be a whole number of events")
    if not isinstance(head, str) or len(head) != 64 or not set(head) <= _HEX:
        raise BadInput("checkpoint: head must be a SHA-256 hash in lower-case hex")
    return seq, head


def sign(home: CustodianHome, seq: int, head: str) -> SignedCheckpoint:
    """Sign (seq, head, now) and keep it as the latest checkpoint; call under the home's lock."""
    seq, head = check_head(seq, head)
    last = latest(home)
    if last is not None and (seq < last.seq or (seq == last.seq and head != last.head)):
        raise Conflict(f"custodian: the audit chain goes back from the checkpoint signed at {last.at} "
                       f"({last.seq} events): refused; run 'guichet audit verify'")
    key = _private(home)
    key_id = key_id_of(public_key(home))
    at = now_iso()
    signature = base64.b64encode(key.sign(signed_bytes(seq, head, at, key_id))).decode()
    checkpoint = SignedCheckpoint(seq, head, at, key_id, signature)
    write_json_private(home.path / LATEST_FILE, checkpoint.to_dict())
    fd = os.open(home.path / "logs" / HISTORY_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (json.dumps(checkpoint.to_dict(), sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)
    return checkpoint
