"""The opt-out register (right to object, EHDS Art 71): plain logic, the identity hook, rate limiting,
and the rotation applier. The state changes are in ``services.py``.

It stores only the person's hub pseudonyms (every domain, kinds ``ano`` and ``psa``), the date and the
scope, and the SHA-256 of the receipt. Recording an objection does the same work, and takes at least
``MIN_SECONDS``, whether or not the person is in any dataset: the register never tells who is known.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.rotation import mapping_dict, register_applier
from guichet.custodian.tables import OptOut, OptOutPseudonym, RateHit
from guichet.errors import BadInput, Refused
from guichet.hub import Hub

SCOPES = ("all", "research", "statistics", "ai-training")
# What a register row records: an objection (Art 71, extracts leave the person out) or the preference not
# to be informed of significant findings about one's health (Arts 58, 61); both held the same way.
KINDS = ("objection", "no-findings")
MIN_SECONDS = 0.25


@dataclass(frozen=True)
class Receipt:
    receipt: str
    recorded_on: date
    scope: str

    def to_dict(self) -> dict[str, str]:
        return {"receipt": self.receipt, "recorded_on": self.recorded_on.isoformat(), "scope": self.scope}


def new_receipt() -> str:
    """128 random bits, base32 without padding (26 characters)."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.strip().upper().encode("ascii", "replace")).hexdigest()


# --- identity verification: a pluggable hook ------------------------------------------------------------

IdentityVerifier = Callable[[str, str], bool]


def verify_nir_birth_date(nir: str, birth_date: str) -> bool:
    """Development verification: the NIR is well formed and its year (and month, when it is a real month)
    agree with the birth date. A real deployment plugs in an identity provider instead."""
    n = nirs.normalise(nir)
    birth = ps.canonical_birth_date(birth_date)
    if not nirs.key_ok(n) or birth is None:
        return False
    if n[1:3] != birth[2:4]:
        return False
    month = int(n[3:5])
    return not (1 <= month <= 12 and month != int(birth[5:7]))


VERIFIERS: dict[str, IdentityVerifier] = {"nir-birth-date": verify_nir_birth_date}
DEFAULT_VERIFIER = "nir-birth-date"


def register_verifier(name: str, fn: IdentityVerifier) -> None:
    VERIFIERS[name] = fn


def verifier_for(hub: Hub) -> IdentityVerifier:
    name = str(hub.config.properties.get("optout_identity_verifier", DEFAULT_VERIFIER))
    if name not in VERIFIERS:
        raise Refused(f"opt-out: identity verifier {name!r} is not installed")
    return VERIFIERS[name]


# --- rate limiting of the public form -------------------------------------------------------------------

class RateLimiter:
    """At most ``limit`` calls per ``window`` seconds per client (the public web forms; operators recording
    objections on citizens' behalf are audited instead of limited).

    Held in the hub's database (table ``rate_hits``), so that every worker of ``guichet serve`` and every
    portal sharing the database counts the same calls. Each call is recorded in a transaction of its own,
    committed before the form's work: a failed verification counts as much as a success. Only a hash of the
    client is stored; rows older than the window are deleted as calls come. The count and the insert are
    atomic: SQLite serialises write transactions, PostgreSQL takes a transaction-scoped advisory lock on the
    client's key."""

    def __init__(self, bucket: str, limit: int = 5, window: float = 3600.0) -> None:
        self.bucket, self.limit, self.window = bucket, limit, window

    def check(self, hub: Hub, client: str) -> None:
        key = hashlib.sha256(f"{self.bucket}:{client}".encode()).hexdigest()
        now = datetime.now(UTC)
        with hub.store.write() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Count and insert under a lock of this client's key, so that two workers cannot both pass
                # the count at the same instant (SQLite's write transactions are serialised already).
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})
            session.execute(delete(RateHit).where(RateHit.bucket == self.bucket,
                                                  RateHit.at < now - timedelta(seconds=self.window)))
            calls = session.execute(select(func.count()).select_from(RateHit).where(
                RateHit.bucket == self.bucket, RateHit.client == key)).scalar_one()
            if calls >= self.limit:
                refused = True
            else:
                refused = False
                session.add(RateHit(bucket=self.bucket, client=key, at=now))
        if refused:
            raise Refused(f"{self.bucket}: too many requests from this client; try again later")

    def clear(self, hub: Hub) -> None:
        with hub.store.write() as session:
            session.execute(delete(RateHit).where(RateHit.bucket == self.bucket))


PUBLIC_LIMITER = RateLimiter("optout")


# --- reads used by extraction -----------------------------------------------------------------------------

def active_pseudonyms(session: Session, scope: str | None = None) -> set[str]:
    """Hub pseudonyms of every person with an active objection (extracts remove them)."""
    q = select(OptOutPseudonym.pseudonym).join(OptOut, OptOut.id == OptOutPseudonym.optout_id).where(
        OptOut.withdrawn_on.is_(None), OptOut.kind == "objection")
    if scope is not None:
        q = q.where(OptOut.scope.in_(["all", scope]))
    return set(session.execute(q).scalars())


# --- rotation ---------------------------------------------------------------------------------------------

def apply_rotation_to_register(hub: Hub, mapping: pa.Table) -> int:
    table = mapping_dict(mapping)
    new_values = set(table.values())
    changed = 0
    with hub.store.write() as session:
        rows = session.execute(select(OptOutPseudonym.optout_id, OptOutPseudonym.pseudonym)).all()
        for optout_id, pseudonym in rows:
            if pseudonym in new_values and pseudonym not in table:
                continue  # already rotated (a retried rotation)
            if pseudonym not in table:
                raise BadInput("rotation: the opt-out register holds a pseudonym the custodian does not know")
            session.execute(update(OptOutPseudonym).where(
                OptOutPseudonym.optout_id == optout_id, OptOutPseudonym.pseudonym == pseudonym).values(
                pseudonym=table[pseudonym]))
            changed += 1
    return changed


register_applier("optout-register", apply_rotation_to_register)
