"""The opt-out register on SQLite and PostgreSQL: add, withdraw, count, rotation, audit without identifiers."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from sqlalchemy import select

from guichet.actor import system_actor
from guichet.custodian import LocalCustodian, services
from guichet.custodian import nir as nirs
from guichet.custodian import optout as register
from guichet.custodian import pseudonyms as ps
from guichet.custodian.tables import OptOutPseudonym
from guichet.errors import BadInput, NotFound
from guichet.hub import Hub
from guichet.store.models import AuditEvent

NIR = nirs.with_key("1850575123456")


def _operator(hub: Hub):
    from guichet.accounts.auth import actor_for

    return actor_for(hub, hub.config.operator).with_strong_auth()


def test_add_withdraw_count_and_rotation(store_hub: Hub) -> None:
    hub, actor = store_hub, _operator(store_hub)
    custodian = LocalCustodian(hub.config.custodian_home)
    dk = custodian.domain_key("snds")
    receipt = services.add_optout(hub, actor, nir=NIR, birth_date="1985-05-03", min_seconds=0)
    assert len(receipt.receipt) == 26 and set(receipt.receipt) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    with hub.store.read() as s:
        active = register.active_pseudonyms(s)
    level1 = ps.level1_ano(dk.key, NIR)
    # what a deposit of this person would store in the lake
    deposited = custodian.pseudonymise(pa.array([level1]), "hub", "deposit:IR_BEN_R").to_pylist()[0]
    assert deposited in active and len(active) == 2
    assert services.count_optouts(hub, actor) == {"active": 1, "withdrawn": 0}

    result = services.rotate(hub, actor)
    assert result["applied"]["optout-register"] == 2
    with hub.store.read() as s:
        rotated = register.active_pseudonyms(s)
    after = custodian.pseudonymise(pa.array([level1]), "hub", "deposit:IR_BEN_R").to_pylist()[0]
    assert after in rotated and not rotated & active

    services.withdraw_optout(hub, actor, receipt=receipt.receipt)
    assert services.count_optouts(hub, actor) == {"active": 0, "withdrawn": 1}
    with pytest.raises(NotFound):
        services.withdraw_optout(hub, actor, receipt=receipt.receipt)

    with hub.store.read() as s:
        events = s.execute(select(AuditEvent)).scalars().all()
        stored = s.execute(select(OptOutPseudonym.pseudonym)).scalars().all()
    text = json.dumps([[e.action, e.object, e.details, e.reason] for e in events])
    assert NIR not in text and receipt.receipt not in text and level1 not in text
    assert not any(p in text for p in stored)
    assert {"optout.add", "optout.withdraw", "custodian.rotate"} <= {e.action for e in events}


def test_unknown_person_gets_the_same_answer(store_hub: Hub) -> None:
    hub, actor = store_hub, _operator(store_hub)
    LocalCustodian(hub.config.custodian_home).domain_key("snds")
    a = services.add_optout(hub, actor, nir=NIR, birth_date="1985-05-03", min_seconds=0)
    other = nirs.with_key("2920612345678")
    b = services.add_optout(hub, actor, nir=other, birth_date="1992-06-01", min_seconds=0)
    assert a.to_dict().keys() == b.to_dict().keys() and len(a.receipt) == len(b.receipt)
    with pytest.raises(BadInput) as err:
        services.add_optout(hub, actor, nir=NIR, birth_date="1990-01-01", min_seconds=0)
    assert NIR not in str(err.value)


def test_public_form_is_rate_limited(store_hub: Hub) -> None:
    from dataclasses import replace

    from guichet.errors import Refused

    hub = store_hub
    citizen = replace(system_actor(), username="anonymous", roles=frozenset(), channel="web")
    register.PUBLIC_LIMITER.clear(hub)
    for _ in range(register.PUBLIC_LIMITER.limit):
        services.add_optout(hub, citizen, nir=NIR, birth_date="1985-05-03", client="203.0.113.9", min_seconds=0)
    with pytest.raises(Refused):
        services.add_optout(hub, citizen, nir=NIR, birth_date="1985-05-03", client="203.0.113.9", min_seconds=0)
    register.PUBLIC_LIMITER.clear(hub)


def test_the_shared_limit_holds_under_concurrent_calls(store_hub: Hub) -> None:
    """Calls at the same instant (threads, as several workers would) cannot pass the limit together."""
    from concurrent.futures import ThreadPoolExecutor

    from guichet.errors import Refused

    limiter = register.RateLimiter("test-concurrent", limit=5)

    def call(_: int) -> bool:
        try:
            limiter.check(store_hub, "198.51.100.7")
            return True
        except Refused:
            return False

    with ThreadPoolExecutor(max_workers=12) as pool:
        passed = list(pool.map(call, range(12)))
    assert sum(passed) == 5
    limiter.check(store_hub, "198.51.100.8")  # another client is not limited
    limiter.clear(store_hub)


def test_a_findings_preference_never_removes_anyone_from_an_extract(store_hub: Hub) -> None:
    """Only objections reach the extract's exclusions (``guichet.workspace.build.applicable_optouts``)."""
    from dataclasses import replace

    from guichet.workspace.build import Plan, Settings, applicable_optouts

    hub = store_hub
    citizen = replace(system_actor(), username="anonymous", roles=frozenset({"public"}), channel="web")
    plan = Plan.of("P-2026-0001", {"data": {"tables": []}, "validity": {"start": "2026-01-01"}})
    settings = Settings.of({})
    LocalCustodian(hub.config.custodian_home).domain_key("snds")  # a domain issued: the person has pseudonyms
    services.decline_findings(hub, citizen, nir=NIR, birth_date="1985-05-03", min_seconds=0)
    assert applicable_optouts(hub, plan, settings) == []
    with hub.store.read() as s:
        assert register.active_pseudonyms(s) == set()
    services.add_optout(hub, citizen, nir=NIR, birth_date="1985-05-03", min_seconds=0)
    assert len(applicable_optouts(hub, plan, settings)) == 2  # ano and psa
