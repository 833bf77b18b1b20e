"""Per-person date shifting and days since the index event, on the handcrafted lake: every date of a person
moves by one offset (the same in the claims and the stays, different in another project), intervals are
preserved, no unshifted month is released beside shifted dates, and ``DAYS_SINCE_INDEX`` is computed from
the exact dates before coarsening."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from guichet.accounts.auth import actor_for
from guichet.workspace import build as wsbuild
from guichet.workspace import services
from tests.workspace_support import Desk, make_desk

SHIFT = 30
CONTENT: dict[str, Any] = {
    "data": [
        {"product": "dcir", "table": "ER_PRS_F", "variables": ["BEN_SEX_COD", "EXE_SOI_DTD", "DCT_ORD_NUM"],
         "granted": ["EXE_SOI_DTD"]},
        {"product": "pmsi-mco", "table": "T_MCOaaC", "variables": ["ENT_DAT", "SOR_DAT"],
         "granted": ["ENT_DAT", "SOR_DAT"]},
        {"product": "beneficiaire", "table": "IR_BEN_R", "variables": ["BEN_NAI_ANN", "BEN_NAI_MOI"],
         "granted": ["BEN_NAI_MOI"]},
    ],
    "criteria": {"period": {"from": "2023-01-01", "to": "2023-12-31"}},
}
DATES = {"ER_PRS_F": ("CLAIM_ID", ("EXE_SOI_DTD",)), "T_MCOaaC": ("STAY_ID", ("ENT_DAT", "SOR_DAT"))}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace-dates"))
    yield d
    d.hub.close()


def _build(desk: Desk, pid: str, shift: int = 0) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    props = desk.hub.config.properties
    props["workspace_date_shift_days"] = shift
    try:
        result = services.build_extract(desk.hub, actor_for(desk.hub, desk.hub.config.operator).with_strong_auth(),
                                        permit_id=pid)
    finally:
        del props["workspace_date_shift_days"]
    return result, wsbuild.read_extract(desk.hub, pid)


def _day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _rows(tables: dict[str, pa.Table]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each dated row by (table, record key): its person, dates and days since the index event."""
    out = {}
    for table, (key, _columns) in DATES.items():
        for row in tables[table].to_pylist():
            out[(table, row[key])] = row
    return out


@pytest.fixture(scope="module")
def builds(desk: Desk) -> dict[str, Any]:
    pid = desk.permit(CONTENT, "dates")
    exact = _build(desk, pid)
    shifted = _build(desk, pid, SHIFT)
    other = desk.permit(CONTENT, "dates-other")
    return {"pid": pid, "exact": exact, "shifted": shifted, "other": _build(desk, other, SHIFT)}


def test_one_offset_per_person_across_tables_and_intervals_kept(builds: dict[str, Any]) -> None:
    (r0, exact), (r1, shifted) = builds["exact"], builds["shifted"]
    assert r0["tables"] == r1["tables"] and r0["tables"]["T_MCOaaC"] == 3
    assert r0["coarsened"] == {}
    assert r1["coarsened"] == {"ER_PRS_F.EXE_SOI_DTD": "shifted per person", "T_MCOaaC.ENT_DAT": "shifted per person",
                               "T_MCOaaC.SOR_DAT": "shifted per person",
                               "IR_BEN_R.BEN_NAI_MOI": "removed (date shifting)"}
    assert "BEN_NAI_MOI" in exact["IR_BEN_R"].column_names and "BEN_NAI_MOI" not in shifted["IR_BEN_R"].column_names
    a, b = _rows(exact), _rows(shifted)
    assert a.keys() == b.keys() and len(a) == 18 + 3  # the same project: the same surrogates
    offsets: dict[str, set[int]] = defaultdict(set)
    tables_of: dict[str, set[str]] = defaultdict(set)
    for (table, _key), row in a.items():
        moved = b[(table, _key)]
        assert moved["PERSON_ID"] == row["PERSON_ID"]
        for column in DATES[table][1]:
            offsets[row["PERSON_ID"]].add((_day(moved[column]) - _day(row[column])).days)
        tables_of[row["PERSON_ID"]].add(table)
        # days since the index event: computed from the exact dates, the same shifted or not
        assert moved["DAYS_SINCE_INDEX"] == row["DAYS_SINCE_INDEX"] is not None
    assert all(len(o) == 1 for o in offsets.values()), offsets  # one offset per person, every table
    assert sum(1 for t in tables_of.values() if t == {"ER_PRS_F", "T_MCOaaC"}) == 2  # ana and gus: both tables
    values = [next(iter(o)) for o in offsets.values()]
    assert all(1 <= abs(v) <= SHIFT for v in values) and len(set(values)) > 3
    # a stay's length is kept
    for (table, _key), row in a.items():
        if table == "T_MCOaaC":
            moved = b[(table, _key)]
            assert (_day(moved["SOR_DAT"]) - _day(moved["ENT_DAT"])).days == (
                _day(row["SOR_DAT"]) - _day(row["ENT_DAT"])).days


def test_days_since_index_is_from_the_first_permitted_event(builds: dict[str, Any]) -> None:
    _, exact = builds["exact"]
    first: dict[str, date] = {}
    for (table, _key), row in _rows(exact).items():
        start = _day(row[DATES[table][1][0]])
        first[row["PERSON_ID"]] = min(first.get(row["PERSON_ID"], start), start)
    for (table, _key), row in _rows(exact).items():
        assert row["DAYS_SINCE_INDEX"] == (_day(row[DATES[table][1][0]]) - first[row["PERSON_ID"]]).days
    assert max(r["DAYS_SINCE_INDEX"] for r in _rows(exact).values()) > 0  # ana's stay, gus's stay: after


def test_another_project_gets_other_offsets(builds: dict[str, Any]) -> None:
    (_, exact), (_, shifted), (_, other) = builds["exact"], builds["shifted"], builds["other"]
    days = sorted(_day(v) for v in exact["ER_PRS_F"].column("EXE_SOI_DTD").to_pylist())
    ours = sorted(_day(v) for v in shifted["ER_PRS_F"].column("EXE_SOI_DTD").to_pylist())
    theirs = sorted(_day(v) for v in other["ER_PRS_F"].column("EXE_SOI_DTD").to_pylist())
    assert ours != days and theirs != days and ours != theirs


def test_shifted_dates_are_never_released_beside_unshifted_months(desk: Desk, builds: dict[str, Any]) -> None:
    content = {**CONTENT, "data": [{k: v for k, v in d.items() if k != "granted"} for d in CONTENT["data"]]}
    pid = desk.permit(content, "dates-months")
    _, truth = _build(desk, pid)  # coarsened, unshifted: the true months
    result, months = _build(desk, pid, SHIFT)
    assert result["coarsened"]["ER_PRS_F.EXE_SOI_DTD"] == "year-month (shifted per person)"
    true_rows, moved_rows = _rows(truth), _rows(months)
    moved_across = 0
    for k, row in true_rows.items():
        table = k[0]
        for column in DATES[table][1]:
            moved_across += moved_rows[k][column] != row[column]
    assert moved_across >= 3  # the shift moved some dates into another month
    # no released column of any table carries a person's true month where their shifted one differs
    by_person: dict[str, set[str]] = defaultdict(set)
    for k, row in true_rows.items():
        for column in DATES[k[0]][1]:
            if moved_rows[k][column] != row[column]:
                by_person[row["PERSON_ID"]].add(row[column])
    released: dict[str, set[str]] = defaultdict(set)
    for table in months.values():
        for row in table.to_pylist():
            released[row["PERSON_ID"]].update(str(v) for v in row.values() if v is not None)
    shifted_months = {p: {str(moved_rows[k][c]) for k in moved_rows if moved_rows[k]["PERSON_ID"] == p
                          for c in DATES[k[0]][1]} for p in by_person}
    for person, true_months in by_person.items():
        assert not (true_months - shifted_months[person]) & released[person]
