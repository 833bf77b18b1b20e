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
from guichet.custodian.grants import DEFAULT_MAX_BATCH
from guichet.custodian.keys import Keyring
from guichet.errors import BadInput, Conflict, NotFound, Refused, Unavailable
from tests.custodian_fixtures import PRODUCER_DOMAIN, any_custodian, any_producer, custodian_server  # noqa: F401

L1 = [ps.encode(bytes([i]) * 15) for i in range(5)]


def test_is_a_custodian(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    assert isinstance(c, Custodian)
    status = c.status()
    assert status["home"] == str(home.path) and status["mode"] in ("in-process", "http")


def test_hub_pseudonyms_stable_ordered_and_passing_markers(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    values = pa.array([L1[0], None, "", INVALID_NIR_KEY, L1[1], L1[0]] * 20_000)  # 120k values, one call
    out = c.pseudonymise(values, "hub", "deposit:IR_BEN_R")
    assert len(out) == len(values)
    first = out.to_pylist()[:6]
    assert first[0] == first[5] and first[0] != first[4] and ps.is_pseudonym(first[0])
    assert first[1] is None and first[2] == "" and first[3] == INVALID_NIR_KEY
    assert first[0] not in L1
    assert c.pseudonymise(pa.array([L1[0]]), "hub", "deposit:IR_BEN_R").to_pylist()[0] == first[0]
    calls = home.calls()
    assert any(x["operation"] == "pseudonymise:hub" and x["count"] == 120_000 and x["purpose"] == "deposit:IR_BEN_R"
               for x in calls)


def test_hub_refuses_values_that_are_not_level1(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    with pytest.raises(BadInput):
        c.pseudonymise(pa.array([nirs.with_key("1850575123456")]), "hub", "deposit:IR_BEN_R")


def test_project_pseudonyms_differ_between_projects(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    ids = pa.array([1, 2, 3, 1])
    a = c.pseudonymise(ids, "project", "extract:p-a", project="p-a").to_pylist()
    b = c.pseudonymise(ids, "project", "extract:p-b", project="p-b").to_pylist()
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
    before = c.pseudonymise(pa.array(L1), "hub", "deposit:IR_BEN_R").to_pylist()
    handover = c.begin_rotation()
    with pytest.raises(Unavailable):
        c.pseudonymise(pa.array(L1), "hub", "deposit:IR_BEN_R")
    mapping = dict(zip(handover.mapping.column("old").to_pylist(), handover.mapping.column("new").to_pylist(),
                       strict=True))
    assert set(before) <= set(mapping)
    c.complete_rotation(handover.rotation_id)
    after = c.pseudonymise(pa.array(L1), "hub", "deposit:IR_BEN_R").to_pylist()
    assert [mapping[b] for b in before] == after
    assert not set(before) & set(after)
    assert c.status()["hub_generation"] == 2


def test_rotation_abort(any_custodian) -> None:  # noqa: F811
    c, _ = any_custodian
    before = c.pseudonymise(pa.array(L1[:2]), "hub", "deposit:IR_BEN_R").to_pylist()
    h = c.begin_rotation()
    c.abort_rotation(h.rotation_id)
    assert c.pseudonymise(pa.array(L1[:2]), "hub", "deposit:IR_BEN_R").to_pylist() == before


def test_optout_pseudonyms_match_the_hub_path(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    domain_key = Keyring(home).domain_key("snds")
    state = home.state()
    state["domains"] = ["snds"]
    home.save_state(state)
    n = nirs.with_key("2850375123456")
    level1 = [ps.level1_ano(domain_key.key, n), ps.level1_psa(domain_key.key, n, "1985-03-02", "2")]
    via_hub = set(c.pseudonymise(pa.array(level1), "hub", "deposit:IR_BEN_R").to_pylist())
    assert set(c.optout_pseudonyms(n, "1985-03-02")) == via_hub
    with pytest.raises(BadInput):
        c.optout_pseudonyms(n[:-2] + "00", "1985-03-02")


# -- scopes, purposes and bounds: both implementations refuse the same calls --------------------------------

def test_a_producer_gets_its_domain_key_and_nothing_else(any_producer, tmp_path: Path) -> None:  # noqa: F811
    c, home = any_producer
    dk = c.domain_key(PRODUCER_DOMAIN)
    assert dk.key == Keyring(home).domain_key(PRODUCER_DOMAIN).key and PRODUCER_DOMAIN in home.state()["domains"]
    with pytest.raises(Refused):
        c.domain_key("other")
    wrapped = Keyring(home).new_data_key("lake")
    n = nirs.with_key("2850375123456")
    for call in (c.status, lambda: c.pseudonymise(pa.array(L1), "hub", "deposit:IR_BEN_R"),
                 lambda: c.pseudonymise(pa.array([1]), "project", "extract:p-1", project="p-1"),
                 lambda: c.optout_pseudonyms(n, "1985-03-02"), lambda: c.new_data_key("lake"),
                 lambda: c.unwrap(wrapped.key_id, wrapped.wrapped), lambda: c.shred("p-1"), c.begin_rotation,
                 lambda: c.complete_rotation("rot-0"), lambda: c.abort_rotation("rot-0")):
        with pytest.raises(Refused):
            call()
    assert home.state()["hub_generation"] == 1 and not list((home.path / "correspondence").iterdir())
    refused = [x for x in home.calls() if x["outcome"] == "refused"]
    assert len(refused) == 11 and {x["caller"] for x in refused} == {"producer-test"}
    assert n not in (home.path / "logs" / "calls.jsonl").read_text()


def test_the_hub_gets_no_domain_key(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    with pytest.raises(Refused):  # not in the hub's interface, and refused to a hub caller all the same
        c.domain_key(PRODUCER_DOMAIN)
    assert home.state()["domains"] == []


def test_shredding_an_unknown_project_is_refused_and_leaves_no_tombstone(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    with pytest.raises(NotFound):
        c.shred("p-never")
    assert not Keyring(home).shredded()
    c.new_data_key("project:p-2")
    assert c.shred("p-2") is True
    assert c.shred("p-2") is False  # a retried call: already destroyed
    assert list(Keyring(home).shredded()) == ["p-2"]


BAD_PSEUDONYMISE_PURPOSES = [
    ("hub", "test", None), ("hub", "deposit:", None), ("hub", "deposit:../x", None), ("hub", "extract:p-1", None),
    ("hub", "deposit:" + "x" * 129, None), ("hub", "deposit:185057512345673 x", None),
    ("project", "extract:p-2", "p-1"), ("project", "extract", "p-1"), ("project", "deposit:X", "p-1"),
    ("project", "extract:P..1", "P..1"), ("other", "deposit:X", None)]


def test_purposes_follow_their_grammar(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    for level, purpose, project in BAD_PSEUDONYMISE_PURPOSES:
        with pytest.raises(BadInput):
            c.pseudonymise(pa.array(L1), level, purpose, project=project)
        assert home.calls()[-1]["purpose"] == "-", purpose
    for purpose in ("lake2", "project:", "project:../x", "project:P1", "LAKE", ""):
        with pytest.raises(BadInput):
            c.new_data_key(purpose)
    assert not list((home.path / "correspondence").iterdir()) and not list((home.path / "projects").iterdir())
    assert "185057512345673" not in str(home.calls())


def test_a_batch_over_the_bound_is_refused_before_any_work(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    assert c.pseudonymise(pa.array([L1[0]] * DEFAULT_MAX_BATCH), "hub", "deposit:X").null_count == 0
    segments = sorted((home.path / "correspondence").iterdir())
    with pytest.raises(BadInput, match="at most 500000"):
        c.pseudonymise(pa.array([L1[1]] * (DEFAULT_MAX_BATCH + 1)), "hub", "deposit:X")
    assert sorted((home.path / "correspondence").iterdir()) == segments
    assert home.calls()[-1] | {"at": ""} == {"at": "", "caller": "hub-test", "operation": "pseudonymise:hub",
                                            "purpose": "deposit:X", "count": DEFAULT_MAX_BATCH + 1,
                                            "outcome": "bad-input"}


def test_every_call_is_logged_with_its_caller_and_outcome(any_custodian) -> None:  # noqa: F811
    c, home = any_custodian
    dk = c.new_data_key("quarantine")
    c.unwrap(dk.key_id, dk.wrapped)
    with pytest.raises(BadInput):
        c.unwrap(dk.key_id, "gw1:185057512345673:AAAA")
    with pytest.raises(NotFound):
        c.shred("p-none")
    calls = [(x["caller"], x["operation"], x["purpose"], x["outcome"]) for x in home.calls()]
    assert calls == [("hub-test", "new-data-key", "quarantine", "ok"), ("hub-test", "unwrap", "quarantine", "ok"),
                     ("hub-test", "unwrap", "-", "bad-input"), ("hub-test", "shred", "project:p-none", "not-found")]


def test_audit_checkpoints_are_signed_kept_and_never_go_back(any_custodian) -> None:  # noqa: F811
    from guichet.audit.checkpoint import signature_ok
    from guichet.errors import BadInput, Conflict

    c, home = any_custodian
    assert c.latest_audit_checkpoint()[0] is None
    signed = c.sign_audit_checkpoint(5, "b" * 64)
    latest, public = c.latest_audit_checkpoint()
    assert latest == signed and signature_ok(signed, public)
    assert c.sign_audit_checkpoint(5, "b" * 64).seq == 5  # the same head again: fine
    with pytest.raises(Conflict):
        c.sign_audit_checkpoint(4, "c" * 64)
    with pytest.raises(Conflict):
        c.sign_audit_checkpoint(5, "c" * 64)
    with pytest.raises(BadInput):
        c.sign_audit_checkpoint(6, "not a hash")
    assert c.sign_audit_checkpoint(6, "c" * 64).seq == 6
    assert c.latest_audit_checkpoint()[0].seq == 6  # type: ignore[union-attr]
    assert "b" * 64 not in (home.path / "logs" / "calls.jsonl").read_text()


def test_record_key_surrogates_differ_between_projects_and_end_with_the_keys(any_custodian) -> None:  # noqa: F811
    """Record keys as bytes: per project (the project's pseudonym key), the same answer for the same bytes, not
    the answer of the same bytes sent as text; nulls refused; none once the project's keys are shredded."""
    from guichet.custodian.pseudonyms import project_key_pseudonym
    from guichet.workspace.surrogates import key_messages

    c, home = any_custodian
    keys = key_messages("claim", [pa.array([1, 2, 1]), pa.array(["A", "B", "A"])], ["int", "text"])
    a = c.pseudonymise(keys, "project", "extract:p-a", project="p-a").to_pylist()
    b = c.pseudonymise(keys, "project", "extract:p-b", project="p-b").to_pylist()
    assert a[0] == a[2] and a[0] != a[1] and not set(a) & set(b)
    key = Keyring(home).project_pseudonym_key("p-a")
    assert a == [project_key_pseudonym(key, m) for m in keys.to_pylist()]
    text = c.pseudonymise(keys.cast(pa.string()), "project", "extract:p-a", project="p-a").to_pylist()
    assert not set(text) & set(a)
    with pytest.raises(BadInput):
        c.pseudonymise(pa.array([b"x", None], pa.binary()), "project", "extract:p-a", project="p-a")
    assert c.shred("p-a") is True
    with pytest.raises(Conflict):  # the key is gone: no surrogate can be recomputed
        c.pseudonymise(keys, "project", "extract:p-a", project="p-a")
