"""The key custodian: the trusted third party that alone holds keys (see ``docs/custodian.md``).

Public API for the rest of the hub (talk only to the ``Custodian`` interface)::

    from guichet.custodian import custodian_for, write_encrypted_parquet, duckdb_register_key

    custodian = custodian_for(hub.config)          # in-process (development) or HTTP, per the config
    hub_ids = custodian.pseudonymise(level1_array, "hub", purpose="deposit:IR_BEN_R")   # pa.Array
    proj_ids = custodian.pseudonymise(person_ids, "project", purpose="extract:p-2025-001", project="p-2025-001")
    dk = custodian.new_data_key("lake")            # DataKey(key_id, wrapped, key): store id + wrapped
    write_encrypted_parquet(table_or_batches, path, dk.key)
    key = custodian.unwrap(dk.key_id, dk.wrapped)  # later, to read
    duckdb_register_key(conn, "k_file1", key)      # then read_parquet(path, encryption_config = {footer_key: 'k_file1'})

Rotation: packages that store hub pseudonyms register an applier with
``guichet.custodian.rotation.register_applier`` (the opt-out register does); ``guichet custodian
rotate`` hands every applier the one-time old → new mapping.
"""

from __future__ import annotations

from pathlib import Path

from guichet.config import HubConfig
from guichet.custodian.grants import hub_grant
from guichet.custodian.interface import Custodian, Level, RotationHandover
from guichet.custodian.keys import DataKey, DomainKey
from guichet.custodian.local import DEVELOPMENT_LABEL, LocalCustodian
from guichet.custodian.nir import INVALID_NIR_KEY, INVALID_PSA_INPUTS
from guichet.custodian.parquet import (
    decryption_properties,
    duckdb_encryption_config,
    duckdb_register_key,
    encrypted_writer,
    encryption_properties,
    is_encrypted_parquet,
    read_encrypted_parquet,
    write_encrypted_parquet,
)

# Hub configuration properties that select the HTTP custodian ([properties] in guichet.toml).
URL_PROPERTY = "custodian_url"
TOKEN_FILE_PROPERTY = "custodian_token_file"  # noqa: S105 - a property name
CA_FILE_PROPERTY = "custodian_ca_file"


def custodian_for(config: HubConfig, caller: str = "hub") -> Custodian:
    """The custodian this hub is configured to use: HTTP when ``custodian_url`` is set, else in-process
    over ``config.custodian_home`` (development only). Either way the hub has the hub's scopes only (the
    HTTP custodian's from its token, the in-process one's from a hub grant), so that code which works in
    development asks nothing a production custodian would refuse."""
    url = config.properties.get(URL_PROPERTY)
    if url:
        from guichet.custodian.http_client import HttpCustodian

        token_file = config.properties.get(TOKEN_FILE_PROPERTY)
        ca_file = config.properties.get(CA_FILE_PROPERTY)
        return HttpCustodian(str(url), token_file=Path(token_file) if token_file else None,
                             ca_file=Path(ca_file) if ca_file else None)
    return LocalCustodian(config.custodian_home, caller=hub_grant(caller))


def init_custodian_home(path: Path) -> bool:
    """Create a custodian home (master secret, state; folders 0700, files 0600). Idempotent."""
    from guichet.custodian.home import CustodianHome

    return CustodianHome(path).init()


__all__ = [
    "CA_FILE_PROPERTY",
    "DEVELOPMENT_LABEL",
    "INVALID_NIR_KEY",
    "INVALID_PSA_INPUTS",
    "TOKEN_FILE_PROPERTY",
    "URL_PROPERTY",
    "Custodian",
    "DataKey",
    "DomainKey",
    "Level",
    "LocalCustodian",
    "RotationHandover",
    "custodian_for",
    "decryption_properties",
    "duckdb_encryption_config",
    "duckdb_register_key",
    "encrypted_writer",
    "encryption_properties",
    "init_custodian_home",
    "is_encrypted_parquet",
    "read_encrypted_parquet",
    "write_encrypted_parquet",
]
