"""No sequence of steps, by any account, reaches an illegal state or skips a step (Hypothesis stateful).

A model of the rules (written out here, not read from the code) says for each call whether it is allowed
and where it leads; the hub must agree call by call, a refused call must change nothing, and every
application's history must be a chain of legal transitions — an authorised application went through the
completeness check and a favourable scientific opinion."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

import guichet.access.services as services
from guichet.access.workflow import FINAL, STATES, TRANSITIONS, today
from guichet.actor import Actor
from guichet.errors import BadInput, Hidden, NotFound, Refused
from guichet.hub import Hub
from tests.application_support import ACCOUNTS, example, hub_with_lake, prepare

ACTORS = sorted([*ACCOUNTS, "operator"])
STEPS = ("submit", "withdraw", "answer", "complete", "incomplete", "favourable", "unfavourable", "revise",
         "citizens", "authorise", "refuse", "extend", "note")
WHO = {"submit": {"alice"}, "withdraw": {"alice"}, "answer": {"alice"}, "complete": {"operator"},
       "incomplete": {"operator"}, "favourable": {"claire", "marc"}, "unfavourable": {"claire", "marc"},
       "revise": {"claire", "marc"}, "citizens": {"paul"}, "authorise": {"arthur"}, "refuse": {"arthur"},
       "extend": {"arthur"}, "note": {"operator", "claire", "marc", "paul", "arthur"}}


@dataclass
class Model:
    state: str = "draft"
    revision: int = 1
    opinion: str | None = None
    extended: bool = False
    citizens: set[int] = field(default_factory=set)


def expected(m: Model, step: str, who: str) -> str | None:
    """The state the step leads to, or None when it must be refused."""
    if who not in WHO[step]:
        return None
    s = m.state
    if step == "submit":
        return "submitted" if s == "draft" else None
    if step == "withdraw":
        return "withdrawn" if s not in FINAL else None
    if step == "answer":
        return {"draft": "draft", "incomplete": "submitted", "revise": "under_review"}.get(s)
    if step in ("complete", "incomplete"):
        return ("under_review" if step == "complete" else "incomplete") if s == "submitted" else None
    if step in ("favourable", "unfavourable"):
        return "opinion" if s == "under_review" else None
    if step == "revise":
        return "revise" if s == "under_review" else None
    if step == "citizens":
        return s if s in ("under_review", "revise", "opinion") and m.revision not in m.citizens else None
    if step == "authorise":
        return "authorised" if s == "opinion" and m.opinion == "favourable" else None
    if step == "refuse":
        return "refused" if s == "opinion" else None
    if step == "extend":
        return s if s == "opinion" and not m.extended else None
    if step == "note":
        return s if s not in FINAL and s != "draft" else None
    raise AssertionError(step)


class Workflow(RuleBasedStateMachine):
    hub: Hub
    actors: dict[str, Actor]

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[int, Model] = {}
        self.touched: set[int] = set()  # the invariant checks these

    def _call(self, app: int, step: str, who: str) -> Any:
        h, a = self.hub, self.actors[who]
        if step == "submit":
            return services.submit(h, a, application_id=app)
        if step == "withdraw":
            return services.withdraw(h, a, application_id=app)
        if step == "answer":
            return services.answer(h, a, application_id=app, content=example())
        if step in ("complete", "incomplete"):
            return services.check(h, a, application_id=app, complete=step == "complete", reason="checked")
        if step in ("favourable", "unfavourable", "revise"):
            return services.opinion(h, a, application_id=app, outcome=step, reason="the panel's view")
        if step == "citizens":
            return services.opinion(h, a, application_id=app, outcome="favourable", reason="useful", panel="citizens")
        if step in ("authorise", "refuse"):
            return services.decide(h, a, application_id=app, authorise=step == "authorise", reason="decided")
        if step == "extend":
            return services.extend(h, a, application_id=app, reason="more time")
        return services.note(h, a, application_id=app, section="data", text="a question")

    @initialize()
    def first_applications(self) -> None:
        self.create()
        self.create()

    @precondition(lambda self: sum(m.state not in FINAL for m in self.models.values()) < 2)  # sequences go deep
    @rule()
    def create(self) -> None:
        app = services.create(self.hub, self.actors["alice"], content=example())
        self.models[app.id] = Model()
        self.touched = {app.id}

    def _pick(self, data: st.DataObject) -> int:
        """An application, mostly one still open."""
        open_ = sorted(i for i, m in self.models.items() if m.state not in FINAL)
        return data.draw(st.sampled_from(open_ if open_ and data.draw(st.integers(0, 9)) else sorted(self.models)))

    @rule(data=st.data(), step=st.sampled_from(STEPS), who=st.sampled_from(ACTORS))
    def any_step_by_anyone(self, data: st.DataObject, step: str, who: str) -> None:
        self._try(self._pick(data), step, who)

    @rule(data=st.data())
    def a_legal_step(self, data: st.DataObject) -> None:
        """One of the steps the model allows (so that sequences reach every state); withdrawal aside."""
        self._legal(data)

    @rule(data=st.data())
    def another_legal_step(self, data: st.DataObject) -> None:
        self._legal(data)

    def _legal(self, data: st.DataObject) -> None:
        app = self._pick(data)
        legal = [(step, who) for step in STEPS for who in sorted(WHO[step])
                 if step != "withdraw" and expected(self.models[app], step, who)]
        if legal:
            step, who = data.draw(st.sampled_from(legal))
            self._try(app, step, who)

    @rule(data=st.data())
    def a_step_out_of_turn_by_the_right_role(self, data: st.DataObject) -> None:
        """A step the account's role allows but the application's state does not."""
        app = self._pick(data)
        out = [(step, who) for step in STEPS for who in sorted(WHO[step]) if not expected(self.models[app], step, who)]
        if out:
            step, who = data.draw(st.sampled_from(out))
            self._try(app, step, who)

    def _try(self, app: int, step: str, who: str) -> None:
        m = self.models[app]
        self.touched = {app}
        want = expected(m, step, who)
        before = services.show(self.hub, self.actors["alice"], application_id=app).to_dict()
        if want is None:
            with pytest.raises((Refused, Hidden, NotFound, BadInput)):
                self._call(app, step, who)
            after = services.show(self.hub, self.actors["alice"], application_id=app).to_dict()
            assert after == before, f"refused {step} by {who} changed application {app}"
            return
        self._call(app, step, who)
        m.state = want
        if step == "answer":
            m.revision += 1
        if step in ("favourable", "unfavourable"):
            m.opinion = step
        if step == "citizens":
            m.citizens.add(m.revision)
        if step == "extend":
            m.extended = True

    @rule()
    def time_passes_and_applications_lapse(self) -> None:
        shift = services.today() - today() + timedelta(days=60)
        services.today = lambda: today() + shift  # type: ignore[assignment]
        lapsed = services.lapse(self.hub, self.actors["operator"])
        waiting = sorted(i for i, m in self.models.items() if m.state in ("incomplete", "revise"))
        # (the hub is shared by the examples: earlier examples' applications lapse too)
        assert sorted(set(lapsed) & set(self.models)) == waiting
        for i in waiting:
            self.models[i].state = "lapsed"
        self.touched = set(waiting)

    @invariant()
    def states_and_histories_are_legal(self) -> None:
        for app in self.touched:
            m = self.models[app]
            info = services.show(self.hub, self.actors["alice"], application_id=app)
            assert info.state == m.state and info.state in STATES
            moves = [(h.from_state, h.action, h.to_state) for h in info.history]
            assert moves[0] == (None, "create", "draft")
            for frm, action, to in moves[1:]:
                assert frm is not None
                legal = {t for (s, _step), t in TRANSITIONS.items() if s == frm} | {frm}
                assert any(to in t.split("|") for t in legal), f"illegal move {frm} -> {to} by {action}"
            if info.state == "authorised":
                steps = [(a, t) for _f, a, t in moves]
                assert ("check", "under_review") in steps
                assert any(o.panel == "scientific" and o.outcome == "favourable" and o.revision == info.revision
                           for o in info.opinions)
            if info.state in FINAL:
                assert info.due is None and info.answer_due is None
            if info.state in ("incomplete", "revise"):
                assert info.due is None and info.answer_due is not None  # the clock is stopped
            if info.state in ("submitted", "under_review", "opinion"):
                assert info.due is not None


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict[str, Actor]]]:
    root: Path = tmp_path_factory.mktemp("access-workflow")
    hub = hub_with_lake(root)
    actors = prepare(hub, root)
    yield hub, actors
    hub.close()


def test_no_sequence_of_steps_reaches_an_illegal_state(desk: tuple[Hub, dict[str, Actor]],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "today", today)
    Workflow.hub, Workflow.actors = desk
    run_state_machine_as_test(Workflow, settings=settings(max_examples=20, stateful_step_count=40, deadline=None,
                                                          suppress_health_check=list(HealthCheck)))


# Every state the model can reach, with the steps that reach it (by the accounts allowed to take them).
PATHS: dict[str, list[tuple[str, str]]] = {
    "draft": [],
    "submitted": [("submit", "alice")],
    "incomplete": [("submit", "alice"), ("incomplete", "operator")],
    "under_review": [("submit", "alice"), ("complete", "operator")],
    "under_review_citizens": [("submit", "alice"), ("complete", "operator"), ("citizens", "paul")],
    "revise": [("submit", "alice"), ("complete", "operator"), ("revise", "claire")],
    "resubmitted": [("submit", "alice"), ("incomplete", "operator"), ("answer", "alice")],
    "opinion_favourable": [("submit", "alice"), ("complete", "operator"), ("favourable", "claire")],
    "opinion_unfavourable": [("submit", "alice"), ("complete", "operator"), ("unfavourable", "marc")],
    "opinion_extended": [("submit", "alice"), ("complete", "operator"), ("favourable", "claire"),
                         ("extend", "arthur")],
    "authorised": [("submit", "alice"), ("complete", "operator"), ("favourable", "claire"),
                   ("authorise", "arthur")],
    "refused": [("submit", "alice"), ("complete", "operator"), ("unfavourable", "claire"), ("refuse", "arthur")],
    "withdrawn": [("submit", "alice"), ("withdraw", "alice")],
}


@pytest.mark.parametrize("where", list(PATHS))
def test_every_step_in_every_reachable_state(desk: tuple[Hub, dict[str, Actor]], where: str) -> None:
    """Exhaustively: each step, by an account whose role allows it, in each reachable state."""
    machine = Workflow.__new__(Workflow)
    Workflow.hub, Workflow.actors = desk
    machine.models, machine.touched = {}, set()

    def fresh() -> int:
        app = services.create(machine.hub, machine.actors["alice"], content=example()).id
        machine.models[app] = Model()
        for step, who in PATHS[where]:
            assert expected(machine.models[app], step, who) is not None
            machine._try(app, step, who)
        return app

    app = fresh()
    for step in STEPS:
        for who in sorted(WHO[step]):
            if expected(machine.models[app], step, who) is None:
                machine._try(app, step, who)  # refused: asserts nothing changed
            else:
                machine._try(fresh(), step, who)  # allowed: asserts where it leads
                machine.states_and_histories_are_legal()
