"""The lake's data keys: the seam to the key custodian for encrypted Parquet and hub pseudonyms.

Stages only talk to ``Protection``; the one implementation asks the hub's configured custodian
(in-process or HTTP) for a fresh wrapped data key per file, for hub pseudonyms of level-1 values, and to
unwrap the key of a file the lake holds (``load_key``). The metadata store keeps wrapped keys only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from sqlalchemy.orm import Session

from guichet.custodian import Custodian, custodian_for
from guichet.custodian.datakeys import record_data_key, wrapped_key
from guichet.custodian.keys import DataKey
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


def load_key(hub: Hub, protection: Protection, key_id: str) -> FileKey:
    """The clear key of a file the lake holds, unwrapped by the custodian (never stored clear)."""
    with hub.store.read() as s:
        wrapped = wrapped_key(s, key_id)
    return FileKey(key_id, protection.unwrap(key_id, wrapped))


def save_keys(session: Session, keys: list[FileKey]) -> None:
    """Record new files' wrapped keys (in the caller's transaction)."""
    for k in keys:
        record_data_key(session, DataKey(k.key_id, k.wrapped, b""))


def decryption(key: FileKey) -> pe.FileDecryptionProperties:
    return pe.create_decryption_properties(footer_key=key.key)


def read_file(path: str, key: FileKey, columns: list[str] | None = None) -> pa.Table:
    """One encrypted Parquet file of the lake, read whole with PyArrow."""
    return pq.read_table(path, columns=columns, decryption_properties=decryption(key))
