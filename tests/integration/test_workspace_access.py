"""Access to a permit's extract stops when the permit does: every read checks the permit's state (refused after
expiry or revocation, and while suspended); the scheduler shreds the project's keys after the hub's grace
period unless an appeal is pending, after which the extract cannot be decrypted — its recipe and manifest
are kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from guichet.accounts.auth import actor_for
from guichet.audit.log import read_events
from guichet.errors import BadInput, Conflict, Refused
from guichet.permits import services as permit_jobs
from guichet.permits.tables import Attestation, JobRun, Permit
from guichet.workspace import build as wsbuild
from guichet.workspace import services
from tests.workspace_support import CONTENT_2023, TODAY, Desk, make_desk


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace-access"))
    yield d
    d.hub.close()


def _operator(desk: Desk) -> Any:
    return actor_for(desk.hub, desk.hub.config.operator).with_strong_auth()


def _built(desk: Desk, name: str) -> str:
    pid = desk.permit(CONTENT_2023, name)
    services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert wsbuild.read_extract(desk.hub, pid, "alice")["ER_PRS_F"].num_rows == 18
    return pid


def _ended_on(desk: Desk, pid: str) -> Any:
    """The day the permit's end was recorded (by the real clock): the grace period counts from it, not from the
    day this module was imported (a run that crosses midnight saw the two differ)."""
    with desk.hub.store.read() as s:
        permit = s.get(Permit, pid)
        assert permit is not None and permit.ended_at is not None
        ended = permit.ended_at
    return ended.date() if hasattr(ended, "date") else ended


def _shred_run(desk: Desk, day: Any) -> list[str]:
    report = permit_jobs.run_jobs(desk.hub, _operator(desk), today=day, only=("permits.shred",))
    return list(report.jobs[0].items)


def test_reads_are_refused_while_suspended_and_after_expiry(desk: Desk) -> None:
    pid = _built(desk, "suspended")
    with pytest.raises(Refused, match="no open access"):
        wsbuild.read_extract(desk.hub, pid, "bob")  # not named on the permit
    with desk.hub.store.write() as s:
        saved = {a.id: a.valid_until for a in s.execute(select(Attestation)).scalars()}
        s.execute(update(Attestation).values(valid_until=TODAY - timedelta(days=1)))
    try:
        with pytest.raises(Refused, match="is suspended: its extract cannot be read"):
            wsbuild.read_extract(desk.hub, pid)
    finally:
        with desk.hub.store.write() as s:
            for a in s.execute(select(Attestation)).scalars():
                a.valid_until = saved[a.id]
    assert wsbuild.read_extract(desk.hub, pid)  # the attestation renewed: readable again
    with desk.hub.store.write() as s:  # its last day has passed (the scheduler has not run yet)
        s.execute(update(Permit).where(Permit.id == pid).values(valid_until=TODAY - timedelta(days=1)))
    with pytest.raises(Refused, match="is expired: its extract cannot be read"):
        wsbuild.read_extract(desk.hub, pid)


def test_no_extract_is_built_while_the_permit_is_suspended_by_a_decision(desk: Desk) -> None:
    """A permit suspended after an incident gets no new extract (one waiting for its people's attestations,
    or for its first day, may be prepared); reinstated, it does."""
    pid = desk.permit(CONTENT_2023, "incident")
    desk.ok("permit", "suspend", pid, "--reason", "incident under investigation", who=desk.hub.config.operator)
    with pytest.raises(Refused, match="suspended by a decision: no extract is built"):
        services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert wsbuild.load_manifest(desk.hub, pid) is None
    desk.ok("permit", "reinstate", pid, "--reason", "cleared", who=desk.hub.config.operator)
    services.build_extract(desk.hub, _operator(desk), permit_id=pid)
    assert wsbuild.read_extract(desk.hub, pid, "alice")["ER_PRS_F"].num_rows == 18


def test_revocation_cuts_access_and_keys_are_shredded_after_the_grace_period(desk: Desk) -> None:
    pid = _built(desk, "revoked")
    folder = wsbuild.extract_dir(desk.hub, pid)
    manifest = wsbuild.load_manifest(desk.hub, pid)
    assert manifest is not None
    desk.ok("permit", "revoke", pid, "--reason", "breach of the conditions", who="arthur")
    ended = _ended_on(desk, pid)
    with pytest.raises(Refused, match="is revoked: its extract cannot be read"):
        wsbuild.read_extract(desk.hub, pid)
    # within the grace period (default 30 days) nothing is shredded
    assert f"permit:{pid}" not in _shred_run(desk, ended + timedelta(days=29))
    assert wsbuild._decrypt(desk.hub, pid, manifest, folder)["ER_PRS_F"].num_rows == 18
    # an appeal is pending: the keys stay past the grace period
    r = desk.run("permit", "appeal", pid, "--reason", "the breach was the processor's", who="bob")
    assert r.code == 2 and "permit.appeal" in r.stderr  # only the holder appeals
    lodged = desk.ok("permit", "appeal", pid, "--reason", "the breach was the processor's", who="alice")
    assert lodged["state"] == "pending"
    assert f"permit:{pid}" not in _shred_run(desk, ended + timedelta(days=31))
    assert wsbuild._decrypt(desk.hub, pid, manifest, folder)
    dismissed = desk.ok("permit", "decide-appeal", pid, "--dismissed", "--reason", "the holder answers for it",
                        who="arthur")
    assert dismissed["state"] == "dismissed"
    with desk.hub.store.read() as s:
        before = max(e.seq for e in read_events(s))
    assert f"permit:{pid}" in _shred_run(desk, ended + timedelta(days=31))
    assert f"permit:{pid}" not in _shred_run(desk, ended + timedelta(days=32))  # once
    with pytest.raises(Conflict, match="cannot be decrypted: its project's keys were shredded"):
        wsbuild._decrypt(desk.hub, pid, manifest, folder)
    # the recipe and the manifest are kept
    assert json.loads((folder / "manifest.json").read_text())["files"] == manifest["files"]
    assert (desk.home / manifest["result"]["recipe"]).exists()
    with desk.hub.store.read() as s:
        events = [(e.action, e.object) for e in read_events(s, after_seq=before)]
        shredded = s.get(Permit, pid)
        assert shredded is not None and shredded.keys_shredded_at is not None
    assert ("custodian.shred", f"project:{pid.lower()}") in events
    assert ("jobs.run", f"jobs:{(ended + timedelta(days=31)).isoformat()}") in events


def test_the_grace_period_is_configurable_up_to_six_months(desk: Desk) -> None:
    pid = _built(desk, "grace")
    desk.ok("permit", "revoke", pid, "--reason", "breach of the conditions", who="arthur")
    ended = _ended_on(desk, pid)
    props = desk.hub.config.properties
    try:
        props["key_shred_grace_days"] = 182
        with pytest.raises(BadInput, match="six months at most"):
            _shred_run(desk, ended + timedelta(days=200))
        with desk.hub.store.read() as s:
            runs = s.execute(select(func.count()).select_from(JobRun)).scalar()
        with pytest.raises(BadInput, match="key_shred_grace_days: 182 days is refused"):
            permit_jobs.run_jobs(desk.hub, _operator(desk), today=ended + timedelta(days=200))
        with desk.hub.store.read() as s:  # refused before any job ran
            assert s.execute(select(func.count()).select_from(JobRun)).scalar() == runs
        props["key_shred_grace_days"] = 10
        assert f"permit:{pid}" not in _shred_run(desk, ended + timedelta(days=9))
        assert f"permit:{pid}" in _shred_run(desk, ended + timedelta(days=10))
    finally:
        props.pop("key_shred_grace_days", None)
