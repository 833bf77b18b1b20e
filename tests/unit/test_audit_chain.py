"""The pure part of the audit chain and the identifier guard."""

from __future__ import annotations

import pytest

from guichet.audit.chain import GENESIS, EventFields, event_hash
from guichet.audit.guard import check_details, check_free_text, looks_like_identifier
from guichet.errors import BadInput


def _event(seq: int = 1, **kw: object) -> EventFields:
    base = dict(seq=seq, event_id="e", at="2026-01-01T00:00:00+00:00", actor="olga", token_id=None, os_user="u",
                channel="cli", action="user.add", object="user:bob", outcome="ok", reason=None, details="{}")
    base.update(kw)
    return EventFields(**base)  # type: ignore[arg-type]


def test_hash_depends_on_every_field_and_on_the_previous_hash() -> None:
    h = event_hash(GENESIS, _event())
    assert len(h) == 64
    assert event_hash(GENESIS, _event()) == h
    for field, value in [("actor", "eve"), ("action", "user.disable"), ("details", '{"a":1}'), ("seq", 2),
                         ("outcome", "refused"), ("object", None), ("at", "2026-01-01T00:00:01+00:00")]:
        assert event_hash(GENESIS, _event(**{field: value})) != h, field
    assert event_hash("1" * 64, _event()) != h


@pytest.mark.parametrize("text", [
    "patient 1 85 05 78 006 084 36 complained",
    "nir 185057800608436",
    "corsican 285052A00608412",
    "pseudonym ABCDEFGHIJKLMNOPQ leaked",
    "key 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
])
def test_free_text_that_looks_like_an_identifier_is_refused_without_echo(text: str) -> None:
    with pytest.raises(BadInput) as err:
        check_free_text(text)
    assert text not in str(err.value)
    for token in text.split():
        if looks_like_identifier(token):
            assert token not in str(err.value)


@pytest.mark.parametrize("text", [
    "left the project in March 2026",
    "duplicate account, see ticket 4521",
    "override: the ER_PRS_F halved month is a known strike (2023-03)",
    "version 12 of IR_BEN_R",
])
def test_ordinary_reasons_pass(text: str) -> None:
    check_free_text(text)


def test_details_are_checked_deeply() -> None:
    with pytest.raises(BadInput):
        check_details({"rows": [{"value": "185057800608436"}]})
    check_details({"rows": 12, "table": "ER_PRS_F", "nested": {"ok": ["a", "b"]}})
