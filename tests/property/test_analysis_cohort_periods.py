"""Random cohorts with calendar periods and régions evaluated two ways on random small extracts: by
guichet.analysis (the event table and the criteria compiled to DuckDB SQL) and by an independent pandas
evaluation written from the documented meaning (an event is in a period when its dates meet the calendar
dates and its start is in the years/quarters/months; the index is the first A10 dispensing; a région is its
départements). Any difference of semantics shows up as a counterexample."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.analysis.cohorts import cohort
from guichet.analysis.events import events

pytestmark = pytest.mark.property
REGIONS = {"075": "11", "077": "11", "069": "84", "038": "84", "013": "93", "02A": "94"}
WRITTEN = {"075": "75", "077": "077", "069": "69", "038": "038", "013": "13", "02A": "2A"}  # as BEN_RES_DPT holds them
PACKS = {"A": "A10BA02", "B": "A10BB09", "C": "C10AA05"}
DAY0 = dt.date(2021, 10, 1)
DEPTS = sorted(REGIONS)

dates = st.integers(0, 900).map(lambda d: DAY0 + dt.timedelta(days=d))
person = st.fixed_dictionaries({
    "dpt": st.sampled_from(DEPTS), "born": st.integers(1940, 2015),
    "dispensings": st.lists(st.tuples(dates, st.sampled_from(sorted(PACKS))), max_size=5),
    "stays": st.lists(st.tuples(dates, st.integers(0, 150), st.sampled_from(["E10", "E11", "I21"])), max_size=2),
})


def period() -> st.SearchStrategy[dict[str, Any]]:
    def build(a: dt.date, b: dt.date, parts: dict[str, Any]) -> dict[str, Any]:
        out = dict(parts)
        lo, hi = sorted((a, b))
        return out | {"from": lo.isoformat(), "to": hi.isoformat()} if "dates" in out.pop("use", []) else out
    parts = st.fixed_dictionaries({}, optional={
        "year": st.lists(st.integers(2021, 2024), min_size=1, max_size=2),
        "quarter": st.lists(st.integers(1, 4), min_size=1, max_size=2),
        "month": st.lists(st.integers(1, 12), min_size=1, max_size=3),
        "use": st.just(["dates"])})
    return st.builds(build, dates, dates, parts).filter(bool)


leaf = st.one_of(
    st.builds(lambda p: {"index_date": p}, period()),
    st.builds(lambda p, n: {"codes": ["A10"], "system": "ATC", "during": p, "min_count": n}, period(), st.integers(1, 2)),
    st.builds(lambda p: {"codes": ["C10"], "system": "ATC", "during": p}, period()),
    st.builds(lambda p: {"event": "stay", "during": p}, period()),
    st.builds(lambda p: {"codes": ["E1"], "system": "ICD10", "during": p}, period()),
    st.builds(lambda r, d: {"territory": {"regions": r, "departements": d}},
              st.lists(st.sampled_from(sorted(set(REGIONS.values()))), max_size=2),
              st.lists(st.sampled_from(DEPTS), max_size=1)).filter(
        lambda c: bool(c["territory"]["regions"] or c["territory"]["departements"])),
)
criteria = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda x: {"not": x}, inner)), max_leaves=4)


def extract(people: list[dict[str, Any]]) -> dict[str, pa.Table]:
    prs: dict[str, list[Any]] = {"PERSON_ID": [], "CLAIM_ID": [], "EXE_SOI_DTD": [], "PRS_NAT_REF": []}
    pha: dict[str, list[Any]] = {"PERSON_ID": [], "CLAIM_ID": [], "PHA_PRS_C13": []}
    mco: dict[str, list[Any]] = {"PERSON_ID": [], "STAY_ID": [], "ENT_DAT": [], "SOR_DAT": []}
    dgn: dict[str, list[Any]] = {"STAY_ID": [], "DGN_PAL": []}
    for i, p in enumerate(people):
        for j, (day, pack) in enumerate(p["dispensings"]):
            claim = f"c{i}.{j}"
            prs["PERSON_ID"].append(f"p{i}"), prs["CLAIM_ID"].append(claim)
            prs["EXE_SOI_DTD"].append(day.isoformat()), prs["PRS_NAT_REF"].append("3313")
            pha["PERSON_ID"].append(f"p{i}"), pha["CLAIM_ID"].append(claim), pha["PHA_PRS_C13"].append(pack)
        for j, (day, length, code) in enumerate(p["stays"]):
            stay = f"s{i}.{j}"
            mco["PERSON_ID"].append(f"p{i}"), mco["STAY_ID"].append(stay), mco["ENT_DAT"].append(day.isoformat())
            mco["SOR_DAT"].append((day + dt.timedelta(days=length)).isoformat())
            dgn["STAY_ID"].append(stay), dgn["DGN_PAL"].append(code)
    string = pa.string()
    return {"IR_BEN_R": pa.table({"PERSON_ID": [f"p{i}" for i in range(len(people))],
                                  "BEN_NAI_ANN": [str(p["born"]) for p in people],
                                  "BEN_RES_DPT": [WRITTEN[p["dpt"]] for p in people]}),
            "ER_PRS_F": pa.table({k: pa.array(v, string) for k, v in prs.items()}),
            "ER_PHA_F": pa.table({k: pa.array(v, string) for k, v in pha.items()}),
            "T_MCOaaC": pa.table({k: pa.array(v, string) for k, v in mco.items()}),
            "T_MCOaaB": pa.table({k: pa.array(v, string) for k, v in dgn.items()})}


# --- the independent evaluation (pandas) --------------------------------------------------------------------
def frame(people: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for i, p in enumerate(people):
        for day, pack in p["dispensings"]:
            rows.append((f"p{i}", "dispensing", PACKS[pack], day, day))
        for day, length, code in p["stays"]:
            end = day + dt.timedelta(days=length)
            rows += [(f"p{i}", "stay", "MCO", day, end), (f"p{i}", "diagnosis", code, day, end)]
    df = pd.DataFrame(rows, columns=["person", "category", "code", "start", "end"])
    df["start"], df["end"] = pd.to_datetime(df["start"]), pd.to_datetime(df["end"])
    return df


def in_period(start: pd.Series, end: pd.Series, p: dict[str, Any]) -> pd.Series:
    ok = pd.Series(True, index=start.index)
    if "from" in p:
        ok &= end >= pd.Timestamp(p["from"])
    if "to" in p:
        ok &= start <= pd.Timestamp(p["to"])
    for key, values in (("year", p.get("year")), ("quarter", p.get("quarter")), ("month", p.get("month"))):
        if values is not None:
            ok &= getattr(start.dt, key).isin(values)
    return ok


def evaluate(c: dict[str, Any], ev: pd.DataFrame, index: pd.DataFrame, dpt: dict[str, str]) -> set[str]:
    base = set(index["person"])
    if "all" in c:
        return set.intersection(*(evaluate(x, ev, index, dpt) for x in c["all"]))
    if "any" in c:
        return set.union(*(evaluate(x, ev, index, dpt) for x in c["any"]))
    if "not" in c:
        return base - evaluate(c["not"], ev, index, dpt)
    if "index_date" in c:
        return set(index.loc[in_period(index["d0"], index["d0"], c["index_date"]), "person"])
    if "territory" in c:
        wanted = set(c["territory"]["departements"]) | {d for d, r in REGIONS.items() if r in c["territory"]["regions"]}
        return {p for p in base if dpt[p] in wanted}
    if "event" in c:
        sel = ev["category"] == c["event"]
    else:
        category = "dispensing" if c["system"] == "ATC" else "diagnosis"
        sel = (ev["category"] == category) & ev["code"].str.startswith(c["codes"][0])
    sel &= in_period(ev["start"], ev["end"], c["during"]) & ev["person"].isin(base)
    counts = ev.loc[sel].groupby("person").size()
    return set(counts[counts >= c.get("min_count", 1)].index)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, min_size=1, max_size=8), criteria)
def test_periods_and_regions_agree_with_pandas(people, crit):
    con = events(extract(people), drugs=PACKS)
    con.register("_dpt_map", pa.table({"GEO_DPT_COD": list(REGIONS), "GEO_REG_COD": list(REGIONS.values())}))
    con.execute("CREATE OR REPLACE TEMP VIEW IR_DPT_V AS SELECT * FROM _dpt_map")
    got = cohort(con, {"index": {"codes": ["A10"], "system": "ATC"}, "criteria": crit}).persons(con)
    ev = frame(people)
    a10 = ev[(ev["category"] == "dispensing") & ev["code"].str.startswith("A10")]
    index = a10.groupby("person", as_index=False).agg(d0=("start", "min"))
    dpt = {f"p{i}": p["dpt"] for i, p in enumerate(people)}
    assert sorted(got.column("person").to_pylist()) == sorted(evaluate(crit, ev, index, dpt))
