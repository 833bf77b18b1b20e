"""The pure part of the audit chain: canonical form and hashes. No I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class EventFields:
    """Every hashed field of an event, in the form stored in the database and the mirror."""

    seq: int
    event_id: str
    at: str
    actor: str
    token_id: str | None
    os_user: str | None
    channel: str
    action: str
    object: str | None
    outcome: str
    reason: str | None
    details: str  # canonical JSON text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, fields: EventFields) -> str:
    """SHA-256 over the previous hash and the canonical event: changing, removing, inserting or
    reordering any event changes every hash after it."""
    payload = prev_hash + "\n" + canonical_json(fields.to_dict())
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def mirror_line(fields: EventFields, prev_hash: str, hash_: str) -> str:
    return canonical_json({**fields.to_dict(), "prev_hash": prev_hash, "hash": hash_}) + "\n"
