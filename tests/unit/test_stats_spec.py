"""Statistics requests without a hub: the specification's problems with their JSON pointers (schema, meaning,
the criteria language's own validator), the state machine, the within-answer differencing rule, and the
session's SQL built from enumerated values only."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from guichet.airlock.ledger import Cell
from guichet.errors import BadInput, Refused
from guichet.stats import compute
from guichet.stats.spec import document, needs, require_valid, validate
from guichet.stats.workflow import TRANSITIONS, next_state

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "examples" / "statistics-request.json").read_text("utf-8"))


def _paths(spec: object) -> dict[str, str]:
    return {e.path: e.message for e in validate(None, spec)}


def test_the_shipped_example_is_valid_offline() -> None:
    assert validate(None, EXAMPLE) == []


@pytest.mark.parametrize(("change", "path", "words"), [
    (lambda s: s.pop("purpose"), "", "required: purpose"),
    (lambda s: s["statistics"][0].update(by=["sex", "shoe_size"]), "/statistics/0/by/1", "one of"),
    (lambda s: s["statistics"][1].pop("event"), "/statistics/1", "required: event"),
    (lambda s: s["statistics"][4].pop("times"), "/statistics/4", "required: times"),
    (lambda s: s["statistics"][0].update(variable="age"), "/statistics/0/variable", "not used by a count"),
    (lambda s: s["statistics"][2].update(name="persons"), "/statistics/2/name", "two statistics of the same name"),
    (lambda s: s["statistics"][5].update(covariates=["claims"]), "/statistics/5/covariates", "outcome"),
    (lambda s: s.update(criteria={"age": {"min": 200}}), "/criteria/age/min", ""),
    (lambda s: s.update(criteria={"all": [{"codes": ["not a code"], "system": "ATC"}]}), "/criteria/all/0/codes/0", ""),
    (lambda s: s.update(colour="blue"), "", "unknown key(s): colour"),
    (lambda s: s["statistics"][4].update(follow_up_end="2023-02-30"), "/statistics/4/follow_up_end", "not a date"),
])
def test_problems_carry_the_pointer_of_the_bad_value(change: object, path: str, words: str) -> None:
    spec = copy.deepcopy(EXAMPLE)
    change(spec)  # type: ignore[operator]
    found = _paths(spec)
    assert path in found, found
    assert words in found[path]


def test_a_refusal_is_one_line_naming_the_paths() -> None:
    spec = copy.deepcopy(EXAMPLE)
    spec["statistics"][0]["by"] = ["planet"]
    with pytest.raises(BadInput, match=r"^statistics request: /statistics/0/by/0: one of"):
        require_valid(None, spec)


def test_the_minimal_extract_holds_only_what_the_statistics_read() -> None:
    spec = copy.deepcopy(EXAMPLE)
    spec["statistics"] = [{"name": "n", "kind": "count", "by": ["sex"]}]
    n = needs(spec)
    assert n.tables == {"IR_BEN_R": ["BEN_SEX_COD"]} and n.granted == []
    spec["statistics"].append({"name": "s", "kind": "survival", "event": "death", "times": [30],
                               "follow_up_end": "2023-12-31"})
    n = needs(spec)
    assert n.tables == {"ER_PRS_F": ["EXE_SOI_DTD"], "IR_BEN_R": ["BEN_SEX_COD"], "KI_CCI_R": ["BEN_DCD_DTE"]}
    assert n.granted == ["ER_PRS_F.EXE_SOI_DTD", "KI_CCI_R.BEN_DCD_DTE"]  # exact dates, inside the hub only
    doc = document("S-2026-0001", spec, __import__("datetime").date(2026, 1, 5))
    assert doc["pseudonymisation"] == "pseudonymised" and doc["population"]["criteria"] == spec["criteria"]
    assert {(v["table"], v["variable"]) for v in doc["data"]["variables"]} == {
        ("ER_PRS_F", "EXE_SOI_DTD"), ("IR_BEN_R", "BEN_SEX_COD"), ("KI_CCI_R", "BEN_DCD_DTE")}


def test_the_state_machine() -> None:
    assert next_state("submitted", "assess", "accepted") == "accepted"
    assert next_state("submitted", "assess", "committee") == "committee"
    assert next_state("committee", "assess", "refused") == "refused"
    assert next_state("accepted", "answer", "review") == "review"
    assert next_state("review", "review", "released") == "released"
    for state, step, outcome in [("submitted", "answer", "review"), ("refused", "assess", "accepted"),
                                 ("released", "review", "refused"), ("accepted", "review", "released"),
                                 ("committee", "assess", "committee"), ("released", "answer", "review")]:
        with pytest.raises(Refused):
            next_state(state, step, outcome)
    assert not any(s in ("refused", "released") for s, _ in TRANSITIONS)  # final states


def _cell(i: int, persons: range) -> Cell:
    return Cell(i, f"c{i}", np.array(sorted(persons), dtype=np.uint64))


def test_a_cell_a_few_persons_apart_from_an_earlier_table_of_the_answer_is_derivable() -> None:
    everyone = ("count all", _cell(0, range(100, 130)))
    assert compute.derivable(_cell(1, range(100, 125)), [everyone], 11) is not None  # 5 apart
    assert compute.derivable(_cell(1, range(100, 130)), [everyone], 11) is None  # the same persons
    assert compute.derivable(_cell(1, range(100, 119)), [everyone], 11) is None  # 11 apart
    assert "10 person(s) apart from count all" in str(compute.derivable(_cell(1, range(95, 125)), [everyone], 11))


def test_the_session_sql_is_made_of_enumerated_values_only() -> None:
    spec = copy.deepcopy(EXAMPLE)
    spec["title"] = "'; DROP TABLE x; --"
    spec["purpose"]["description"] = "'); COPY (SELECT 1) TO '/etc/x'; --"
    text = compute.script(spec, needs(spec).tables, 2023)
    assert "DROP TABLE" not in text and "/etc/x" not in text
    assert compute.file_id("S-2026-0007", 2) == -2026000702


def test_the_example_the_form_offers_is_the_documented_one() -> None:
    from guichet.stats.pages import EXAMPLE as PACKAGED

    assert json.loads(PACKAGED.read_text(encoding="utf-8")) == EXAMPLE


def test_a_rates_persons_with_the_event_beside_all_its_persons_may_not_isolate_the_others() -> None:
    """19 persons, 18 with the event: each count passes the threshold, but together they tell the one without
    it — the second is withheld (and the rate made of it)."""
    persons, events, rate = _cell(0, range(100, 119)), _cell(1, range(100, 118)), _cell(2, range(100, 118))
    keep, held = compute.screen([persons, events, rate], {}, [], 11, "hospitalised")
    assert [c.index for c in keep] == [0]
    assert [(c.index, why.split(" of ")[0]) for c, why in held] == [
        (1, "differencing: 1 person(s) apart from hospitalised c0"), (2, "differencing: 1 person(s) apart from hospitalised c0")]
    keep, held = compute.screen([_cell(0, range(0, 30)), _cell(1, range(100, 130))], {}, [], 11, "t")
    assert len(keep) == 2 and held == []  # disjoint groups of 30
    keep, held = compute.screen([persons], {0: {"apart": 3, "against": "a cell released to another project"}}, [], 11, "t")
    assert keep == [] and "3 person(s) apart from a cell released to another project" in held[0][1]


def test_survival_at_risk_counts_never_tell_a_small_step(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("grp,time,at_risk,events,censored,survival\n"
                    "a,30,100,,,\n"       # row 1: 100 at risk
                    "a,90,95,,,\n"        # row 2: 5 left since 100: withheld
                    "a,180,91,12,0,0.87\n"  # row 3: 9 left since 100: withheld
                    "a,365,79,0,0,0.87\n"   # row 4: 21 left since 100: released
                    "b,30,40,0,0,1\n"       # another group starts afresh
                    "b,90,40,0,0,1\n", encoding="utf-8")
    assert compute.survival_drops(path, 11) == {(2, "at_risk"), (2, "survival"), (3, "at_risk"), (3, "survival")}
