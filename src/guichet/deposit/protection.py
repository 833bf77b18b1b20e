"""The seam between the deposit and the key custodian: data keys for encrypted Parquet and hub pseudonyms.

Deposit code only talks to ``Protection``; the one implementation asks the hub's configured custodian
(in-process or HTTP) for a fresh wrapped data key per file and for hub pseudonyms of level-1 values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from guichet.custodian import Custodian, custodian_for
from guichet.hub import Hub


@dataclass(frozen=True)
class FileKey:
    key_id: str
    key: bytes = b""
    wrapped: str = ""
    scheme: str = "custodian"

    def __repr__(self) -> str:  # never print a key
        return f"FileKey({self.key_id})"

    @property
    def engine_name(self) -> str:
        """The name under which DuckDB knows this key (never the key)."""
        return "k_" + re.sub(r"[^A-Za-z0-9_]", "_", self.key_id)[:60]


class Protection(Protocol):
    scheme: str

    def new_file_key(self, purpose: str = "lake") -> FileKey: ...

    def unwrap(self, key_id: str, wrapped: str) -> bytes: ...

    def to_hub_pseudonyms(self, values: pa.Array, kind: str, purpose: str) -> pa.Array: ...


class CustodianProtection:
    scheme = "custodian"

    def __init__(self, custodian: Custodian) -> None:
        self.custodian = custodian

    def new_file_key(self, purpose: str = "lake") -> FileKey:
        dk = self.custodian.new_data_key(purpose)
        return FileKey(dk.key_id, dk.key, dk.wrapped, f"custodian:{self.custodian.mode}")

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        return self.custodian.unwrap(key_id, wrapped)

    def to_hub_pseudonyms(self, values: pa.Array, kind: str, purpose: str) -> pa.Array:
        return self.custodian.pseudonymise(values, "hub", purpose=purpose)


def protection_for(hub: Hub) -> Protection:
    return CustodianProtection(custodian_for(hub.config, caller="deposit"))
