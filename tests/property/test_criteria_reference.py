"""Random criteria counted two ways on the handcrafted delivery of ``tests/criteria_support.py``: by the hub
(compiled to SQL, run on the lake through the person index) and by a plain Python evaluator over the same
21 people written out by hand below — any difference of semantics (precedence of set operations, windows,
ages, prefixes, persons split across pseudonyms) shows up as a counterexample."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.access import criteria as cr
from guichet.hub import Hub
from tests.access_support import hub_with_lake
from tests.criteria_support import AMOXICILLIN, METFORMIN, STATIN

pytestmark = pytest.mark.property
D = dt.date.fromisoformat
ATC_OF = {METFORMIN[0]: "A10BA02", METFORMIN[1]: "A10BA02", AMOXICILLIN: "J01CA04", STATIN: "C10AA05"}
REGION = {"075": "11", "069": "84", "013": "93", "033": "75", "02A": "94"}


@dataclass
class Ref:
    sex: str
    year: int
    month: int
    dept: str
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # (variable, code, start, end)


def _people() -> dict[str, Ref]:
    p = {"ana": Ref("female", 1950, 3, "075"), "bob": Ref("male", 1980, 7, "069"), "cyd": Ref("female", 2010, 1, "013"),
         "dan": Ref("male", 1990, 11, "02A"), "eve": Ref("female", 2005, 6, "075"), "gus": Ref("male", 2012, 9, "069"),
         "hal": Ref("male", 1960, 4, "033")}
    for i in range(1, 15):
        p[f"b{i:02d}"] = Ref("female" if i % 2 else "male", 1970, 1, "075",
                             [("ER_PHA_F", STATIN, f"2023-04-{i:02d}", f"2023-04-{i:02d}"),
                              ("ER_PRS_F", "", f"2023-04-{i:02d}", f"2023-04-{i:02d}")])
    p["ana"].events += [("ER_PHA_F", METFORMIN[0], "2023-02-10", "2023-02-10"), ("ER_PRS_F", "", "2023-02-10", "2023-02-10"),
                        ("T_MCOaaC", "", "2023-05-02", "2023-05-06"), ("T_MCOaaB.DGN_PAL", "E119", "2023-05-02", "2023-05-06"),
                        ("T_MCOaaD.ASS_DGN", "J189", "2023-05-02", "2023-05-06")]
    p["bob"].events += [("ER_PHA_F", METFORMIN[1], "2022-12-15", "2022-12-15"), ("ER_PRS_F", "", "2022-12-15", "2022-12-15"),
                        ("IR_IMB_R.IMB_ALD_NUM", "8", "2020-01-01", "2030-01-01"),
                        ("IR_IMB_R.MED_MTF_COD", "E119", "2020-01-01", "2030-01-01")]
    p["cyd"].events += [("ER_PHA_F", AMOXICILLIN, "2023-05-20", "2023-05-20"), ("ER_PRS_F", "", "2023-05-20", "2023-05-20")]
    p["dan"].events += [("T_MCOaaC", "", "2023-06-10", "2023-06-15"), ("T_MCOaaB.DGN_PAL", "I219", "2023-06-10", "2023-06-15")]
    p["eve"].events += [("ER_PRS_F", "", "2023-03-01", "2023-03-01")]
    p["gus"].events += [("ER_PHA_F", METFORMIN[0], "2023-08-01", "2023-08-01"), ("ER_PRS_F", "", "2023-08-01", "2023-08-01"),
                        ("T_MCOaaC", "", "2023-09-01", "2023-09-03"), ("T_MCOaaB.DGN_PAL", "E119", "2023-09-01", "2023-09-03")]
    return p


PEOPLE = _people()


def _meets(start: str, end: str, window: dict[str, str] | None) -> bool:
    if not window:
        return True
    return (("from" not in window or D(end) >= D(window["from"])) and
            ("to" not in window or D(start) <= D(window["to"])))


def _age(r: Ref, day: dt.date) -> int:
    return day.year - r.year - (1 if day.month < r.month else 0)


def _leaf(r: Ref, node: dict[str, Any]) -> bool:
    kind = cr.kind_of(node)
    if kind == "codes":
        system, window = node["system"], node.get("during")
        match = node.get("match", "exact" if system in ("CIP13", "ALD", "CCAM") else "prefix")
        wanted = [c.upper().replace(".", "") for c in node["codes"]]
        variables = node.get("variables") or {"CIP13": ["ER_PHA_F"], "ATC": ["ER_PHA_F"],
                                               "ICD10": ["T_MCOaaB.DGN_PAL", "T_MCOaaD.ASS_DGN"],
                                               "ALD": ["IR_IMB_R.IMB_ALD_NUM"]}[system]
        variables = ["ER_PHA_F" if v.startswith("ER_PHA_F") else v for v in variables]
        for variable, code, start, end in r.events:
            if variable not in variables or not _meets(start, end, window):
                continue
            value = ATC_OF[code] if system == "ATC" else code
            if any(value == w or (match == "prefix" and value.startswith(w)) for w in wanted):
                return True
        return False
    if kind == "age":
        low, high = node["age"].get("min", 0), node["age"].get("max", 130)
        if "at" in node:
            return low <= _age(r, D(node["at"])) <= high
        w = node["during"]
        days = [D(w["from"]), D(w["to"])] + [dt.date(y, r.month, 1) for y in range(D(w["from"]).year, D(w["to"]).year + 1)
                                             if D(w["from"]) <= dt.date(y, r.month, 1) <= D(w["to"])]
        return any(low <= _age(r, d) <= high for d in days)
    if kind == "sex":
        return r.sex == node["sex"]
    if kind == "territory":
        t = node["territory"]
        return r.dept in {d.zfill(3) for d in t.get("departements", [])} or REGION[r.dept] in t.get("regions", [])
    if kind == "period":
        return any(v in ("ER_PRS_F", "T_MCOaaC") and _meets(s, e, node["period"]) for v, _, s, e in r.events)
    raise AssertionError(kind)


def matches(r: Ref, node: dict[str, Any]) -> bool:
    if "all" in node:
        return all(matches(r, c) for c in node["all"])
    if "any" in node:
        return any(matches(r, c) for c in node["any"])
    if "not" in node:
        return not matches(r, node["not"])
    return _leaf(r, node)


windows = st.one_of(st.none(), st.sampled_from([{"from": "2023-01-01", "to": "2023-12-31"}, {"to": "2022-12-31"},
                                                 {"from": "2023-05-01"}, {"from": "2023-04-03", "to": "2023-05-02"}]))


def _with(node: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**node, key: value} if value is not None else node


leaves = st.one_of(
    st.builds(lambda c, w: _with({"codes": c, "system": "ATC"}, "during", w),
              st.lists(st.sampled_from(["A10", "A10BA02", "C10", "J01CA04", "N02"]), min_size=1, max_size=3), windows),
    st.builds(lambda c, w: _with({"codes": c, "system": "CIP13"}, "during", w),
              st.lists(st.sampled_from([*METFORMIN, AMOXICILLIN, STATIN]), min_size=1, max_size=2), windows),
    st.builds(lambda c, v, m: _with(_with({"codes": c, "system": "ICD10"}, "variables", v), "match", m),
              st.lists(st.sampled_from(["E11", "E119", "I21", "J18.9", "E10"]), min_size=1, max_size=3),
              st.one_of(st.none(), st.lists(st.sampled_from(["T_MCOaaB.DGN_PAL", "T_MCOaaD.ASS_DGN",
                                                             "IR_IMB_R.MED_MTF_COD"]), min_size=1, max_size=3,
                                            unique=True)),
              st.sampled_from([None, "prefix"])),
    st.builds(lambda c, w: _with({"codes": c, "system": "ALD"}, "during", w),
              st.lists(st.sampled_from(["8", "30"]), min_size=1, max_size=2), windows),
    st.builds(lambda lo, hi, at: {"age": {"min": min(lo, hi), "max": max(lo, hi)}, "at": at},
              st.integers(0, 80), st.integers(0, 80), st.sampled_from(["2023-01-01", "2023-06-01", "2022-12-31"])),
    st.builds(lambda lo, hi: {"age": {"min": min(lo, hi), "max": max(lo, hi)},
                              "during": {"from": "2022-03-01", "to": "2023-10-31"}}, st.integers(0, 80), st.integers(0, 80)),
    st.builds(lambda s: {"sex": s}, st.sampled_from(["male", "female"])),
    st.builds(lambda d, r: {"territory": _with({"departements": d}, "regions", r)},
              st.lists(st.sampled_from(["75", "69", "13", "33"]), min_size=1, max_size=2),
              st.one_of(st.none(), st.just(["94"]))),
    st.builds(lambda w: {"period": w}, st.sampled_from([{"from": "2023-05-01", "to": "2023-05-31"},
                                                        {"to": "2023-02-28"}, {"from": "2023-08-15"}])),
)
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"not": c}, inner)), max_leaves=6)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("reference")
    hub = hub_with_lake(root)  # the handcrafted lake, built once per test process
    yield hub
    hub.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees)
def test_the_hub_counts_what_the_reference_counts(lake: Hub, tree: dict[str, Any]) -> None:
    assert cr.validate(lake, tree) == []
    expected = sorted(name for name, r in PEOPLE.items() if matches(r, tree))
    assert cr.count_persons(lake, tree) == len(expected), expected
