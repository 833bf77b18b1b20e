"""Accreditation, the scheduler and the outbox on each metadata store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.errors import BadInput, Refused
from guichet.hub import Hub
from guichet.permits import services as permits
from guichet.permits.accreditation import attestation_valid
from guichet.permits.outbox import outbox_dir
from guichet.permits.tables import JobRun, Notification, Permit
from tests.permit_support import sample_document


def _operator(hub: Hub) -> Any:
    from guichet.accounts.auth import actor_for

    return actor_for(hub, hub.config.operator).with_strong_auth()


def test_an_attestation_is_valid_until_its_last_day(store_hub: Hub) -> None:
    op = _operator(store_hub)
    accounts.add_user(store_hub, system_actor(), username="alice", roles=["researcher"], org="Inserm U1018")
    today = datetime.now(UTC).date()
    until = today + timedelta(days=100)
    info = permits.attest_user(store_hub, op, username="alice", until=until)
    assert info.valid_until == until
    with store_hub.store.read() as s:
        assert attestation_valid(s, "alice", today)
        assert attestation_valid(s, "alice", until)
        assert not attestation_valid(s, "alice", until + timedelta(days=1))
        assert not attestation_valid(s, "bob", today)
    with pytest.raises(BadInput):
        permits.attest_user(store_hub, op, username="alice", until=today - timedelta(days=1))
    from guichet.accounts.auth import actor_for

    alice = actor_for(store_hub, "alice")
    with pytest.raises(Refused):
        permits.attest_user(store_hub, alice, username="alice", until=until)
    assert [a.valid_until for a in permits.attestations(store_hub, alice, username="alice")] == [until]


def _permit(hub: Hub, pid: str, owner: str, until: date) -> None:
    doc = sample_document()
    doc["id"] = pid
    with hub.store.write() as s:
        s.add(Permit(id=pid, application=f"A-{pid}", org="Inserm U1018", owner=owner, state="active", revision=1,
                     document=doc, valid_from=until - timedelta(days=365), valid_until=until, extended=False,
                     issued_by="operator", issued_at=datetime.now(UTC)))


def _snapshot(hub: Hub) -> tuple[Any, ...]:
    with hub.store.read() as s:
        permits_ = tuple(s.execute(select(Permit.id, Permit.state, Permit.ended_at, Permit.results_due, Permit.delete_by,
                                          Permit.keys_shredded_at.is_not(None)).order_by(Permit.id)).all())
        notes = tuple(s.execute(select(Notification.dedupe, Notification.delivered_at.is_not(None))
                                .order_by(Notification.id)).all())
    files = tuple(sorted(p.name for p in outbox_dir(hub.config).glob("*.eml")))
    return permits_, notes, files


def test_the_scheduler_run_twice_has_the_effect_of_running_once(store_hub: Hub) -> None:
    op = _operator(store_hub)
    accounts.add_user(store_hub, system_actor(), username="alice", roles=["researcher"], org="Inserm U1018")
    _permit(store_hub, "P-2026-0001", "alice", date(2027, 3, 31))
    _permit(store_hub, "P-2026-0002", "alice", date(2029, 3, 31))
    day = date(2027, 4, 2)
    first = permits.run_jobs(store_hub, op, today=day)
    after_first = _snapshot(store_hub)
    second = permits.run_jobs(store_hub, op, today=day)
    assert _snapshot(store_hub) == after_first
    assert first.changed > 0 and second.changed == 0
    states = {p[0]: p for p in after_first[0]}
    assert states["P-2026-0001"][1:5] == ("expired", date(2027, 4, 1), date(2028, 10, 1), date(2027, 10, 1))
    assert states["P-2026-0002"][1] == "active"
    assert [n[0] for n in after_first[1]] == ["permit-expired:P-2026-0001"]
    assert after_first[2] == ("00000001.eml",)
    eml = (outbox_dir(store_hub.config) / "00000001.eml").read_text()
    assert "To: alice@" in eml and "P-2026-0001" in eml
    assert oct((outbox_dir(store_hub.config) / "00000001.eml").stat().st_mode & 0o777) == "0o600"
    # six months after the end the custodian is asked to shred the project's keys, once
    later = permits.run_jobs(store_hub, op, today=date(2027, 10, 1))
    assert dict((j.name, j.changed) for j in later.jobs)["permits.shred"] == 1
    again = permits.run_jobs(store_hub, op, today=date(2027, 10, 1))
    assert again.changed == 0
    with store_hub.store.read() as s:
        assert s.execute(select(func.count()).select_from(JobRun)).scalar() == 4


def test_attestation_expiry_is_told_once(store_hub: Hub) -> None:
    op = _operator(store_hub)
    accounts.add_user(store_hub, system_actor(), username="alice", roles=["researcher"], org="Inserm U1018")
    today = datetime.now(UTC).date()
    permits.attest_user(store_hub, op, username="alice", until=today + timedelta(days=10))
    _permit(store_hub, "P-2026-0001", "alice", today + timedelta(days=400))
    assert dict((j.name, j.changed) for j in permits.run_jobs(store_hub, op, today=today).jobs)["attestations.expiring"] == 1
    assert permits.run_jobs(store_hub, op, today=today).changed == 0
    # once it ended, alice is named on an active permit: told her access is suspended
    res = permits.run_jobs(store_hub, op, today=today + timedelta(days=11))
    assert dict((j.name, j.changed) for j in res.jobs)["attestations.expiring"] == 1


def test_another_day_only_in_development(tmp_path: Any) -> None:
    from tests.conftest import make_hub

    hub = make_hub(tmp_path, mode="production")
    try:
        with pytest.raises(Refused, match="development"):
            permits.run_jobs(hub, system_actor(), today=date(2030, 1, 1))
        assert permits.run_jobs(hub, system_actor()).today == datetime.now(UTC).date()
        with pytest.raises(BadInput):
            permits.run_jobs(hub, system_actor(), only=("nope",))
    finally:
        hub.close()


class _FakeSMTP:
    sent: list[Any] = []
    fail = False

    def __init__(self, host: str, port: int, timeout: int) -> None:
        self.where = (host, port)

    def __enter__(self) -> _FakeSMTP:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def starttls(self) -> None:
        return None

    def send_message(self, msg: Any) -> None:
        if _FakeSMTP.fail:
            raise OSError("connection refused")
        _FakeSMTP.sent.append((self.where, msg["To"], msg["Subject"]))


def test_smtp_when_configured_retried_when_it_fails(store_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    import smtplib

    from guichet.permits import outbox

    monkeypatch.setattr(smtplib, "SMTP", _FakeSMTP)
    config = store_hub.config.with_properties(smtp={"host": "mail.example.org", "port": 2525, "domain": "example.org"})
    now = datetime.now(UTC)
    with store_hub.store.write() as s:
        assert outbox.queue(s, dedupe="t:1", recipient="alice", subject="Hello", body="text", now=now)
        assert not outbox.queue(s, dedupe="t:1", recipient="alice", subject="Hello", body="text", now=now)
    _FakeSMTP.fail, _FakeSMTP.sent = True, []
    with store_hub.store.write() as s:
        assert outbox.deliver_pending(s, config, now) == {"delivered": 0, "failed": 1}
    _FakeSMTP.fail = False
    with store_hub.store.write() as s:
        assert outbox.deliver_pending(s, config, now) == {"delivered": 1, "failed": 0}
    with store_hub.store.write() as s:
        assert outbox.deliver_pending(s, config, now) == {"delivered": 0, "failed": 0}
        note = s.execute(select(Notification)).scalar_one()
        assert (note.channel, note.attempts) == ("smtp", 2)
    assert _FakeSMTP.sent == [(("mail.example.org", 2525), "alice@example.org", "Hello")]
    assert not outbox_dir(store_hub.config).exists()  # nothing written as a file
