"""Wrapped data keys in the metadata store: helpers for the services that write encrypted files.

Call them inside your own service's session (they are not services themselves)::

    dk = custodian.new_data_key("lake")
    record_data_key(unit.session, dk)                 # key id + wrapped key, never the key
    ...
    key = custodian.unwrap(key_id, wrapped_key(session, key_id))
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from guichet.custodian.keys import DataKey
from guichet.custodian.tables import WrappedDataKey
from guichet.errors import NotFound


def record_data_key(session: Session, dk: DataKey) -> None:
    purpose = dk.wrapped.split(":")[1]
    session.add(WrappedDataKey(key_id=dk.key_id, purpose=purpose, wrapped=dk.wrapped, created_at=datetime.now(UTC)))


def wrapped_key(session: Session, key_id: str) -> str:
    row = session.get(WrappedDataKey, key_id)
    if row is None:
        raise NotFound(f"data key {key_id}: not in the metadata store")
    return row.wrapped
