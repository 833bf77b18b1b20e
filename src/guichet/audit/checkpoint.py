"""Signed checkpoints of the audit chain's head: what makes cutting its tail detectable.

A checkpoint says "the chain held ``seq`` events and its head was ``head`` at ``at``", signed with
Ed25519 by the custodian's audit key (the hub never holds it). The custodian keeps the latest checkpoint it
signed; ``audit verify`` asks it for that one and checks that the hub's chain still holds event ``seq``
with hash ``head``. A tail cut in the database and the files together, with the head rolled back, leaves a
chain that verifies on its own but shorter than (or different from) what was signed. The hub also keeps a
copy of every checkpoint in ``<home>/audit/checkpoints.jsonl`` for the public page and exports.

Pure part: the signed bytes, the signature check, the comparison with a chain. No I/O but the hub's copy.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKPOINT_FORMAT = "guichet-audit-checkpoint/1"
PUBLISHED_NAME = "checkpoints.jsonl"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its signature (base64); ``key_id`` names the audit key (a digest of its public key)."""

    seq: int
    head: str
    at: str
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignedCheckpoint:
        return cls(int(data["seq"]), str(data["head"]), str(data["at"]), str(data["key_id"]), str(data["signature"]))


@dataclass(frozen=True)
class LatestCheckpoint:
    """What the custodian answers: the latest checkpoint it signed (None: none yet) and its audit public key
    (base64 raw Ed25519), computed from its master secret when asked."""

    checkpoint: SignedCheckpoint | None
    public_key: str


def signed_bytes(seq: int, head: str, at: str, key_id: str) -> bytes:
    """What the audit key signs: the format, the event count, the head hash, the time and the key's id."""
    body = {"format": CHECKPOINT_FORMAT, "seq": seq, "head": head, "at": at, "key_id": key_id}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id_of(public_key: str) -> str:
    """A short, stable name of a public key (base64 raw Ed25519): its SHA-256's first 16 hex digits."""
    import hashlib

    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def signature_ok(checkpoint: SignedCheckpoint, public_key: str) -> bool:
    """True when ``checkpoint`` was signed by the private half of ``public_key`` (base64 raw Ed25519)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        if checkpoint.key_id != key_id_of(public_key):
            return False
        key.verify(base64.b64decode(checkpoint.signature, validate=True),
                   signed_bytes(checkpoint.seq, checkpoint.head, checkpoint.at, checkpoint.key_id))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def chain_problem(checkpoint: SignedCheckpoint, events: int, hashes: dict[int, str]) -> tuple[int, str] | None:
    """(first bad event, why) when a chain of ``events`` events with ``hashes`` (seq → hash) does not hold
    what ``checkpoint`` signed, else None."""
    if events < checkpoint.seq:
        return (events + 1, f"the chain ends at event {events} but the custodian signed a checkpoint of "
                            f"{checkpoint.seq} events at {checkpoint.at}: events {events + 1} to {checkpoint.seq} "
                            "were cut (in the database and the files)")
    if checkpoint.seq and hashes.get(checkpoint.seq) != checkpoint.head:
        return (checkpoint.seq, f"event {checkpoint.seq} does not have the head hash the custodian signed at "
                                f"{checkpoint.at}: the chain up to it was rewritten")
    return None


# -- the hub's published copy ------------------------------------------------------------------------

def published_path(audit_dir: Path) -> Path:
    return audit_dir / PUBLISHED_NAME


def publish(audit_dir: Path, checkpoint: SignedCheckpoint, public_key: str) -> None:
    """Append a checkpoint (with the public key that verifies it) to the hub's public list."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    line = json.dumps({**checkpoint.to_dict(), "public_key": public_key}, sort_keys=True) + "\n"
    with published_path(audit_dir).open("a", encoding="utf-8") as out:
        out.write(line)


def published(audit_dir: Path) -> list[dict[str, Any]]:
    """Every checkpoint the hub published, oldest first (lines that are not checkpoints are skipped)."""
    path = published_path(audit_dir)
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            SignedCheckpoint.from_dict(data)
        except (ValueError, KeyError, TypeError):
            continue
        out.append(data)
    return out
