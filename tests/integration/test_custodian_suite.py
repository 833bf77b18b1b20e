"""One test suite for both custodians (in-process and HTTP service on a loopback port)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from guichet.custodian import (
    INVALID_NIR_KEY,
    Custodian,
    duckdb_encryption_config,
    duckdb_register_key,
    is_encrypted_parquet,
    read_encrypted_parquet,
    write_encrypted_parquet,
)
from guichet.custodian import nir as nirs
from guichet.custodian import pseudonyms as ps
from guichet.custodian.keys import Keyring
from guichet.errors import BadInput, Conflict, Unavailable
from tests.custodian_fixtures import any_custodian, custodian_server  # noqa: F401

L1 = [ps.encode(bytes([i]) * 15) for i in range(5)]


def test_is_a_custodian(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    assert isinstance(c, Custodian)
    status = c.status()
    assert status["home"] == str(home.path) and status["mode"] in ("in-process", "http")


def test_hub_pseudonyms_stable_ordered_and_passing_markers(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    values = pa.array([L1[0], None, "", INVALID_NIR_KEY, L1[1], L1[0]] * 20_000)  # 120k values, one call
    out = c.pseudonymise(values, "hub", "test:suite")
    assert len(out) == len(values)
    first = out.to_pylist()[:6]
    assert first[0] == first[5] and first[0] != first[4] and ps.is_pseudonym(first[0])
    assert first[1] is None and first[2] == "" and first[3] == INVALID_NIR_KEY
    assert first[0] not in L1
    assert c.pseudonymise(pa.array([L1[0]]), "hub", "again").to_pylist()[0] == first[0]
    calls = home.calls()
    assert any(x["operation"] == "pseudonymise:hub" and x["count"] == 120_000 and x["purpose"] == "test:suite"
               for x in calls)


def test_hub_refuses_values_that_are_not_level1(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    with pytest.raises(BadInput):
        c.pseudonymise(pa.array([nirs.with_key("1850575123456")]), "hub", "test")


def test_project_pseudonyms_differ_between_projects(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    ids = pa.array([1, 2, 3, 1])
    a = c.pseudonymise(ids, "project", "extract", project="p-a").to_pylist()
    b = c.pseudonymise(ids, "project", "extract", project="p-b").to_pylist()
    assert a[0] == a[3] and len(set(a[:3])) == 3
    assert not set(a) & set(b)


def test_data_keys_encrypt_files_duckdb_reads(any_custodian, tmp_path: Path) -> None:  # noqa: F811
    c, _ = any_custodian
    dk = c.new_data_key("lake")
    path = tmp_path / "part-0.parquet"
    write_encrypted_parquet(pa.table({"x": [1, 2, 3]}), path, dk.key)
    assert is_encrypted_parquet(path)
    key = c.unwrap(dk.key_id, dk.wrapped)
    assert key == dk.key
    conn = duckdb.connect()
    duckdb_register_key(conn, "k1", key)
    rows = conn.execute(f"SELECT sum(x) FROM read_parquet(?, encryption_config = {duckdb_encryption_config('k1')})",
                        [str(path)]).fetchone()
    assert rows == (6,)
    with pytest.raises(BadInput):
        c.unwrap("dk-0000000000000000", dk.wrapped)  # a wrapped key is bound to its id


def test_shredding_makes_an_extract_unreadable(any_custodian, tmp_path: Path) -> None:  # noqa: F811
    c, _ = any_custodian
    dk = c.new_data_key("project:p-1")
    path = tmp_path / "extract.parquet"
    write_encrypted_parquet(pa.table({"x": [1]}), path, dk.key)
    assert read_encrypted_parquet(path, c.unwrap(dk.key_id, dk.wrapped)).num_rows == 1
    assert c.shred("p-1") is True
    with pytest.raises(Conflict):
        c.unwrap(dk.key_id, dk.wrapped)
    with pytest.raises(Conflict):
        c.new_data_key("project:p-1")


def test_rotation_preserves_links(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    before = c.pseudonymise(pa.array(L1), "hub", "deposit").to_pylist()
    handover = c.begin_rotation()
    with pytest.raises(Unavailable):
        c.pseudonymise(pa.array(L1), "hub", "during")
    mapping = dict(zip(handover.mapping.column("old").to_pylist(), handover.mapping.column("new").to_pylist(),
                       strict=True))
    assert set(before) <= set(mapping)
    c.complete_rotation(handover.rotation_id)
    after = c.pseudonymise(pa.array(L1), "hub", "deposit").to_pylist()
    assert [mapping[b] for b in before] == after
    assert not set(before) & set(after)
    assert c.status()["hub_generation"] == 2


def test_rotation_abort(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    before = c.pseudonymise(pa.array(L1[:2]), "hub", "deposit").to_pylist()
    h = c.begin_rotation()
    c.abort_rotation(h.rotation_id)
    assert c.pseudonymise(pa.array(L1[:2]), "hub", "deposit").to_pylist() == before


def test_optout_pseudonyms_match_the_hub_path(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    domain_key = Keyring(home).domain_key("snds")
    state = home.state()
    state["domains"] = ["snds"]
    home.save_state(state)
    n = nirs.with_key("2850375123456")
    level1 = [ps.level1_ano(domain_key.key, n), ps.level1_psa(domain_key.key, n, "1985-03-02", "2")]
    via_hub = set(c.pseudonymise(pa.array(level1), "hub", "deposit").to_pylist())
    assert set(c.optout_pseudonyms(n, "1985-03-02")) == via_hub
    with pytest.raises(BadInput):
        c.optout_pseudonyms(n[:-2] + "00", "1985-03-02")
