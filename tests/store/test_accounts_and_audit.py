"""Accounts, tokens and the audit chain on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from guichet.accounts import services as accounts
from guichet.accounts.auth import authenticate_token, verify_password, verify_totp
from guichet.audit.verify import verify
from guichet.errors import BadInput, Refused
from guichet.governance import Actor
from guichet.hub import Hub
from guichet.store.models import ApiToken, AuditEvent

OP = Actor("operator", frozenset({"operator"}), strong_auth=True)


def test_users_roles_and_organisations(store_hub: Hub) -> None:
    info = accounts.add_user(store_hub, OP, username="alice", roles=["researcher", "producer"], org="Lab A")
    assert info.roles == ("producer", "researcher") and info.org == "Lab A"
    with pytest.raises(BadInput, match="organisation"):
        accounts.add_user(store_hub, OP, username="bob", roles=["researcher"], org=" ")
    with pytest.raises(BadInput, match="already exists"):
        accounts.add_user(store_hub, OP, username="alice", roles=["researcher"], org="Lab A")
    with pytest.raises(BadInput, match="unknown role"):
        accounts.add_user(store_hub, OP, username="carol", roles=["king"], org="Lab A")
    names = [u.username for u in accounts.list_users(store_hub, OP)]
    assert names == ["alice", "operator"]


def test_tokens_are_hashed_scoped_expiring_and_revocable(store_hub: Hub) -> None:
    accounts.add_user(store_hub, OP, username="alice", roles=["researcher"], org="Lab")
    issued = accounts.issue_token(store_hub, OP, username="alice", days=1, scopes=("api",))
    with store_hub.store.read() as s:
        row = s.get(ApiToken, issued.token_id)
        assert row is not None
        assert issued.token.split("_", 2)[2] not in row.secret_hash  # only a hash is stored
    actor = authenticate_token(store_hub, issued.token, scope="api")
    assert actor.username == "alice" and actor.token_id == issued.token_id and actor.roles == {"researcher"}
    with pytest.raises(Refused, match="not valid for cli"):
        authenticate_token(store_hub, issued.token, scope="cli")
    with pytest.raises(Refused, match="does not belong"):
        authenticate_token(store_hub, issued.token, scope="api", username="operator")
    with pytest.raises(Refused, match="unknown or wrong"):
        authenticate_token(store_hub, issued.token[:-2] + "xx", scope="api")
    accounts.revoke_token(store_hub, OP, token_id=issued.token_id)
    with pytest.raises(Refused, match="revoked"):
        authenticate_token(store_hub, issued.token, scope="api")


def test_a_researcher_may_issue_only_their_own_token(store_hub: Hub) -> None:
    accounts.add_user(store_hub, OP, username="alice", roles=["researcher"], org="Lab")
    alice = Actor("alice", frozenset({"researcher"}))
    accounts.issue_token(store_hub, alice, username="alice")
    with pytest.raises(Refused, match=r"user\.token"):
        accounts.issue_token(store_hub, alice, username="operator")


def test_disabling_revokes_tokens(store_hub: Hub) -> None:
    accounts.add_user(store_hub, OP, username="bob", roles=["checker"], org="Lab")
    issued = accounts.issue_token(store_hub, OP, username="bob")
    accounts.disable_user(store_hub, OP, username="bob", reason="left the team")
    with pytest.raises(Refused):
        authenticate_token(store_hub, issued.token, scope="cli")
    with pytest.raises(Refused, match="separation of duties"):
        accounts.disable_user(store_hub, OP, username="operator")


def test_passwords_and_totp(store_hub: Hub) -> None:
    import pyotp

    accounts.set_password(store_hub, OP, username="operator", password="correct horse battery")
    assert verify_password(store_hub, "operator", "correct horse battery")
    assert not verify_password(store_hub, "operator", "wrong")
    assert not verify_password(store_hub, "nobody", "wrong")
    secret = accounts.enroll_totp(store_hub, OP, username="operator")
    assert verify_totp(store_hub, "operator", pyotp.TOTP(secret).now())
    assert not verify_totp(store_hub, "operator", "000000") or pyotp.TOTP(secret).now() == "000000"
    with store_hub.store.read() as s:
        from guichet.store.models import User

        stored = s.execute(select(User.totp_secret).where(User.username == "operator")).scalar_one()
    assert secret not in stored  # sealed at rest


def test_concurrent_appends_keep_one_chain(store_hub: Hub) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(5):
                accounts.add_user(store_hub, OP, username=f"u{i}x{j}", roles=["researcher"], org=f"Org {i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    report = verify(store_hub.store, store_hub.audit_dir)
    assert report.ok, report.to_dict()
    with store_hub.store.read() as s:
        seqs = list(s.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars())
    assert seqs == list(range(1, len(seqs) + 1))
    assert report.mirror_events == report.events == len(seqs)


def test_disabling_ends_portal_sessions_so_re_enabling_revives_none(store_hub: Hub) -> None:
    from datetime import UTC, datetime, timedelta

    from guichet.web.tables import WebSession

    info = accounts.add_user(store_hub, OP, username="dora", roles=["researcher"], org="Lab")
    assert info.username == "dora"
    now = datetime.now(UTC)
    with store_hub.store.write() as s:
        from guichet.store.models import User

        uid = s.execute(select(User.id).where(User.username == "dora")).scalar_one()
        s.add(WebSession(id="a" * 64, user_id=uid, created_at=now, expires_at=now + timedelta(hours=1)))
    accounts.disable_user(store_hub, OP, username="dora")
    accounts.enable_user(store_hub, OP, username="dora")
    with store_hub.store.read() as s:
        row = s.get(WebSession, "a" * 64)
        assert row is not None and row.revoked_at is not None
