"""The one interface the hub talks to. Two implementations pass one test suite: ``LocalCustodian``
(in-process, development only) and ``HttpCustodian`` (the custodian as a separate service)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import pyarrow as pa

from guichet.audit.checkpoint import SignedCheckpoint
from guichet.custodian.keys import DataKey

Level = Literal["hub", "project"]


@dataclass(frozen=True)
class RotationHandover:
    """A one-time old → new mapping of hub pseudonyms. The hub applies it, then completes the rotation;
    the custodian keeps no copy and the hub must not either."""

    rotation_id: str
    old_generation: int
    new_generation: int
    mapping: pa.Table  # columns "old", "new" (strings)

    def __repr__(self) -> str:
        return (f"RotationHandover(rotation_id={self.rotation_id!r}, old_generation={self.old_generation}, "
                f"new_generation={self.new_generation}, pairs={self.mapping.num_rows})")


@runtime_checkable
class Custodian(Protocol):
    """What the hub may ask of the custodian. Nothing here turns a clear NIR into a hub pseudonym except
    ``optout_pseudonyms`` (the right to object needs it), and nothing returns a level-1 value."""

    mode: str  # "in-process" or "http"

    def status(self) -> dict[str, Any]:
        """Home or URL, mode, label, hub-pseudonym generation, pending rotation, counts (no secrets)."""
        ...

    def pseudonymise(self, values: pa.Array, level: Level, purpose: str, project: str | None = None) -> pa.Array:
        """Hub pseudonyms from level-1 values (``level="hub"``) or project pseudonyms from person ids
        (``level="project"``, ``project`` required) — or, given bytes, from record keys' canonical encodings
        (another domain, ``pseudonyms.LABEL_PROJECT_KEY``; no nulls). Same length and order as ``values``; nulls stay
        null, empty strings and producers' markers (``!invalid_nir_key``...) are returned unchanged.
        ``purpose`` names the use in the custodian's call log and follows a grammar: ``deposit:<dataset>``
        for hub pseudonyms, ``extract:<project>`` (the project asked) for project pseudonyms. At most the
        custodian's ``max_batch`` values per call (500,000 by default)."""
        ...

    def optout_pseudonyms(self, nir: str, birth_date: str, rights_nir: str | None = None) -> list[str]:
        """The hub pseudonyms of a person who objects (every domain, ``ano`` and ``psa``). Same work
        whether or not the person is known."""
        ...

    def new_data_key(self, purpose: str) -> DataKey:
        """A fresh 256-bit data key for one file, wrapped under the KEK of ``purpose`` (``lake``,
        ``quarantine``, ``staging``, ``workspace`` or ``project:<id>``)."""
        ...

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        ...

    def shred(self, project: str) -> bool:
        """Destroy a project's keys (its extracts become unreadable). True when destroyed now, False when
        they already were; ``NotFound`` when the custodian never held keys for the project."""
        ...

    def begin_rotation(self) -> RotationHandover:
        ...

    def complete_rotation(self, rotation_id: str) -> dict[str, Any]:
        ...

    def abort_rotation(self, rotation_id: str) -> None:
        ...

    def sign_audit_checkpoint(self, seq: int, head: str) -> SignedCheckpoint:
        """Sign a checkpoint of the hub's audit chain with the audit key (the hub never holds it) and keep
        it as the latest; ``Conflict`` when it goes back from the latest one."""
        ...

    def latest_audit_checkpoint(self) -> tuple[SignedCheckpoint | None, str]:
        """The latest checkpoint signed (or None) and the audit public key (base64 raw Ed25519)."""
        ...
