"""authorize() answers with a reason, and applies roles, self, separation of duties and second factors."""

from __future__ import annotations

from guichet.governance import Actor, Resource, authorize

alice = Actor("alice", frozenset({"researcher"}))
olga = Actor("olga", frozenset({"operator"}), strong_auth=True)


def test_refusal_names_the_rule_and_the_roles() -> None:
    d = authorize(alice, "user.add")
    assert not d.allowed
    assert "user.add needs the role" in d.reason and "operator" in d.reason and "alice" in d.reason


def test_role_allows_with_reason() -> None:
    d = authorize(olga, "user.add", Resource("user", "bob", owner="bob"))
    assert d.allowed and "operator" in d.reason


def test_self_may_issue_own_token_but_not_anothers() -> None:
    assert authorize(alice, "user.token", Resource("user", "alice", owner="alice")).allowed
    assert not authorize(alice, "user.token", Resource("user", "bob", owner="bob")).allowed


def test_not_owner_separation_of_duties() -> None:
    d = authorize(olga, "user.disable", Resource("user", "olga", owner="olga"))
    assert not d.allowed and "separation of duties" in d.reason


def test_unknown_action_is_refused() -> None:
    d = authorize(olga, "lake.delete_everything")
    assert not d.allowed and "unknown action" in d.reason


def test_decisions_need_a_second_factor(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from guichet.governance import permissions

    spec = permissions.ActionSpec("test.decide", frozenset({"authority"}), "decision", "test")
    monkeypatch.setitem(permissions.ACTIONS, "test.decide", spec)
    arthur = Actor("arthur", frozenset({"authority"}))
    assert not authorize(arthur, "test.decide").allowed
    assert "second-factor" in authorize(arthur, "test.decide").reason
    assert authorize(arthur.with_strong_auth(), "test.decide").allowed


def test_not_prior_separation_of_duties(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from guichet.governance import permissions

    spec = permissions.ActionSpec("test.review", frozenset({"checker"}), "change", "test", ("not_prior",))
    monkeypatch.setitem(permissions.ACTIONS, "test.review", spec)
    c = Actor("carl", frozenset({"checker"}))
    res = Resource("release", "7", owner="alice", prior_actors=frozenset({"carl"}))
    assert not authorize(c, "test.review", res).allowed
    assert authorize(c, "test.review", Resource("release", "7", owner="alice")).allowed
