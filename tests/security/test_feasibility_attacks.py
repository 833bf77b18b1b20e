"""Trying to learn a count below 11 from feasibility counts: asking directly, differencing two criteria that
differ by a small group, repeating a question or rewriting it, averaging over variants within the daily
budget; the budget refused and audited. The handcrafted delivery of ``tests/criteria_support.py`` (21 people;
type 2 diabetes in hospital: 2 of them, statins: 14)."""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from guichet.access import feasibility as fz
from guichet.access.feasibility_services import feasibility
from guichet.actor import Actor
from guichet.errors import Refused
from guichet.hub import Hub
from guichet.store.models import AuditEvent
from tests.access_support import hub_with_lake

pytestmark = pytest.mark.security
DIABETES = {"codes": ["E11"], "system": "ICD10"}  # 2 people: never to be learnt
STATINS = {"codes": ["C10AA05"], "system": "ATC"}  # 14 people


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("feasibility")
    hub = hub_with_lake(root)  # the handcrafted lake, built once per test process
    yield hub
    hub.close()


def researcher(name: str) -> Actor:
    return Actor(name, frozenset({"researcher"}))


def _events(hub: Hub, actor: str) -> list[AuditEvent]:
    with hub.store.read() as s:
        rows = s.execute(select(AuditEvent).where(AuditEvent.action == fz.ACTION, AuditEvent.actor == actor)
                         .order_by(AuditEvent.seq)).scalars().all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def test_a_small_group_asked_directly_is_suppressed(lake: Hub) -> None:
    got = feasibility(lake, researcher("ada"), criteria=DIABETES)
    assert got.to_dict() == {"persons": None, "shown": "fewer than 11"}


def test_differencing_two_criteria_shows_differences_of_tens_only(lake: Hub) -> None:
    """statins (14) and statins-or-diabetes (16): each answer a multiple of 10 at or above 11, so their
    difference is a multiple of 10 — never the group's size; the complement trick (everyone vs everyone but
    the group: 21 and 19) the same."""
    who = researcher("bea")
    pairs = [(STATINS, {"any": [STATINS, DIABETES]}),
             ({"not": {"codes": ["J01"], "system": "ATC", "during": {"to": "1999-12-31"}}}, {"not": DIABETES})]
    for without, with_group in pairs:
        a = feasibility(lake, who, criteria=without)
        b = feasibility(lake, who, criteria=with_group)
        for answer in (a, b):
            assert answer.persons is None or (answer.persons % 10 == 0 and answer.persons >= 11)
        if a.persons is not None and b.persons is not None:
            assert abs(b.persons - a.persons) % 10 == 0
            assert abs(b.persons - a.persons) != 2


def test_repeating_or_rewriting_a_question_gives_the_same_answer(lake: Hub) -> None:
    who = researcher("cy")
    question = {"any": [STATINS, DIABETES]}
    first = feasibility(lake, who, criteria=question)
    rewrites = [question, {"any": [DIABETES, STATINS]},
                {"any": [{"codes": ["c10aa05", "C10AA05"], "system": "ATC", "match": "prefix"},
                         {"not": {"not": {"codes": ["E11", "E119"], "system": "ICD10"}}}]},
                {"all": [{"any": [{"any": [DIABETES]}, STATINS]}]}]
    for criteria in rewrites:
        assert feasibility(lake, who, criteria=criteria) == first  # nothing to average
    details = [json.loads(e.details) for e in _events(lake, "cy")]
    assert len({d["criteria"] for d in details}) == 1  # one canonical form, one fingerprint


def _attack(rng: random.Random, group: int, pairs: int, scale: float, base: int = 100) -> bool:
    """One attacker on one hub (its own secret): ``pairs`` variants of a base criteria (each a new canonical
    form, so fresh noise) with and without the group; guesses the group is there when the mean difference is
    above half its size. Answers whether the guess was right."""
    key = fz.noise_key(rng.randbytes(32))
    present = rng.random() < 0.5
    diffs = []
    for i in range(pairs):
        x = fz.perturb(base, fz.noise_seed(key, f"base variant {i}"), scale).persons
        y = fz.perturb(base + (group if present else 0), fz.noise_seed(key, f"with group, variant {i}"), scale).persons
        assert x is not None and y is not None
        diffs.append(y - x)
    return (statistics.mean(diffs) > group / 2) == present


@pytest.mark.parametrize(("group", "pairs", "at_most"), [
    (1, 1, 0.56),  # one pair of questions: a coin toss
    (2, 1, 0.58),
    (1, fz.DEFAULT_BUDGET // 2, 0.67),  # a whole day's budget averaged on one group
    (2, fz.DEFAULT_BUDGET // 2, 0.76),
])
def test_averaging_within_the_budget_learns_little(group: int, pairs: int, at_most: float) -> None:
    """The honest figures of docs/access.md: an attacker who spends a day's budget on one small group tells
    whether it holds 2 people from 0 about 7 times in 10 (coin toss: 5). Without the noise (rounding alone,
    the base on a multiple of 10) the same attacker is always right."""
    rng = random.Random(20261207)
    trials = 600
    right = sum(_attack(rng, group, pairs, fz.DEFAULT_SCALE) for _ in range(trials)) / trials
    assert right <= at_most
    assert sum(_attack(rng, group, pairs, 0.0) for _ in range(50)) == 50


def test_the_daily_budget_is_refused_and_audited(lake: Hub) -> None:
    saved = lake.config
    lake.config = lake.config.with_properties(feasibility_daily_budget=3)
    try:
        who = researcher("dee")
        for i in range(3):
            feasibility(lake, who, criteria={"age": {"min": 18 + i}, "at": "2023-01-01"})
        with pytest.raises(Refused, match="daily budget of 3 counts is spent"):
            feasibility(lake, who, criteria=STATINS)
        with pytest.raises(Refused):  # a refusal does not count, and does not reopen the budget either
            feasibility(lake, who, criteria=STATINS)
        feasibility(lake, researcher("eli"), criteria=STATINS)  # the budget is per account
        assert [e.outcome for e in _events(lake, "eli")] == ["ok"]
        events = _events(lake, "dee")
        assert [e.outcome for e in events] == ["ok", "ok", "ok", "refused", "refused"]
        assert "budget" in (events[-1].reason or "")
        ok = json.loads(events[0].details)
        assert set(ok) == {"criteria", "shown", "budget_left"} and len(ok["criteria"]) == 16
        assert ok["budget_left"] == 2 and events[0].object == "criteria"
        with lake.store.read() as s:  # the next day, the budget is whole again
            import datetime as dt

            tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            assert fz.used_today(s, "dee", tomorrow) == 0
            assert fz.used_today(s, "dee") == 3
    finally:
        lake.config = saved


def test_counts_asked_side_by_side_cannot_overspend_the_budget(lake: Hub) -> None:
    """Five counts sent at once with one count left: one is answered, four are withheld and audited as
    refused (the budget is counted again under the audit chain's lock when each event is written)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    saved = lake.config
    lake.config = lake.config.with_properties(feasibility_daily_budget=3)
    try:
        who = researcher("fay")
        for i in range(2):
            feasibility(lake, who, criteria={"age": {"min": 30 + i}, "at": "2023-01-01"})
        start = threading.Barrier(5)

        def ask(i: int) -> str:
            start.wait()
            try:
                feasibility(lake, who, criteria={"age": {"min": 40 + i}, "at": "2023-01-01"})
                return "answered"
            except Refused:
                return "refused"

        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(ask, range(5)))
        assert sorted(answers) == ["answered"] + ["refused"] * 4
        outcomes = [e.outcome for e in _events(lake, "fay")]
        assert outcomes.count("ok") == 3 and outcomes.count("refused") == 4
    finally:
        lake.config = saved


def test_only_researchers_and_operators_count_and_refusals_are_audited(lake: Hub) -> None:
    with pytest.raises(Refused):
        feasibility(lake, Actor("cat", frozenset({"committee"})), criteria=STATINS)
    assert [e.outcome for e in _events(lake, "cat")] == ["refused"]
    feasibility(lake, Actor("ops", frozenset({"operator"})), criteria=STATINS, application="A-1")
    assert [(e.outcome, e.object) for e in _events(lake, "ops")] == [("ok", "application:A-1")]


def test_criteria_file_through_the_cli(lake: Hub, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    path = tmp_path / "c.json"
    path.write_text(json.dumps({"all": [DIABETES, {"sex": "female"}]}))
    env = {"GUICHET_HOME": str(lake.home)}
    r = run_cli(["criteria", "feasibility", str(path), "--as", "operator", "--json"], env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == {"persons": None, "shown": "fewer than 11"}
