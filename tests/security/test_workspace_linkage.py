"""Can two projects' extracts of the same population be joined? Two permits on the 14 statin users of the
handcrafted lake (each with one claim in April 2023, of the same nature and amount): their extracts are
joined on every key column and on (date, code, amount), and the match rate reported — the share of one
extract's rows that match exactly one row of the other (a one-to-one link). Keys never match; coarsened
dates never link a row; exact dates link nearly every row — why the application form warns that exact dates
allow cross-project linkage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from guichet.accounts.auth import actor_for
from guichet.workspace import build as wsbuild
from guichet.workspace import rules, services
from tests.workspace_support import Desk, make_desk

KEY_COLUMNS = sorted({rules.PERSON_OUT, *(k.out for k in rules.RECORD_KEYS.values()), *rules.COLUMN_KEYS})
EVENT = ("EXE_SOI_DTD", "PRS_NAT_REF", "PRS_PAI_MNT")  # (date, code, amount)


def content(exact: bool) -> dict[str, Any]:
    claims: dict[str, Any] = {"product": "dcir", "table": "ER_PRS_F",
                              "variables": ["BEN_SEX_COD", *EVENT, "DCT_ORD_NUM"]}
    if exact:
        claims["granted"] = ["EXE_SOI_DTD"]
    return {"data": [claims, {"product": "dcir", "table": "ER_PHA_F", "variables": ["PHA_PRS_C13"]}],
            "criteria": {"all": [{"codes": ["C10AA05"], "system": "ATC"},
                                 {"period": {"from": "2023-01-01", "to": "2023-12-31"}}]}}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    d = make_desk(tmp_path_factory.mktemp("workspace-linkage"))
    yield d
    d.hub.close()


def _extract(desk: Desk, name: str, exact: bool) -> dict[str, pa.Table]:
    pid = desk.permit(content(exact), name)
    services.build_extract(desk.hub, actor_for(desk.hub, desk.hub.config.operator).with_strong_auth(), permit_id=pid)
    return wsbuild.read_extract(desk.hub, pid)


def match_rate(a: pa.Table, b: pa.Table, columns: list[str] | tuple[str, ...]) -> float:
    """The share of ``a``'s rows whose values on ``columns`` match exactly one row of ``b`` and no other row of
    ``a`` (a one-to-one link between the two extracts)."""
    def keys(t: pa.Table) -> list[tuple[str, ...]]:
        cols = [t.column(c).to_pylist() for c in columns]
        return [tuple(str(v) for v in row) for row in zip(*cols, strict=True)]

    ka, kb = keys(a), keys(b)
    ca, cb = Counter(ka), Counter(kb)
    return sum(1 for k in ka if ca[k] == 1 and cb[k] == 1) / len(ka) if ka else 0.0


@pytest.fixture(scope="module")
def extracts(desk: Desk) -> dict[str, dict[str, pa.Table]]:
    return {"coarse_a": _extract(desk, "coarse-a", False), "coarse_b": _extract(desk, "coarse-b", False),
            "exact_a": _extract(desk, "exact-a", True), "exact_b": _extract(desk, "exact-b", True)}


def test_no_key_column_joins_two_projects(extracts: dict[str, dict[str, pa.Table]]) -> None:
    report = {}
    for pair in (("coarse_a", "coarse_b"), ("exact_a", "exact_b"), ("coarse_a", "exact_b")):
        a, b = extracts[pair[0]], extracts[pair[1]]
        for table in a:
            for column in KEY_COLUMNS:
                if column in a[table].column_names:
                    shared = set(a[table].column(column).to_pylist()) & set(b[table].column(column).to_pylist())
                    report[(pair, table, column)] = len(shared) / a[table].num_rows
    print("key columns, match rate:", report)
    assert {c for (_, _, c) in report} == {"PERSON_ID", "CLAIM_ID"}
    assert extracts["coarse_a"]["ER_PRS_F"].num_rows == 14
    assert all(rate == 0 for rate in report.values())


def test_coarsened_dates_do_not_link_exact_dates_do(extracts: dict[str, dict[str, pa.Table]]) -> None:
    coarse = match_rate(extracts["coarse_a"]["ER_PRS_F"], extracts["coarse_b"]["ER_PRS_F"], EVENT)
    exact = match_rate(extracts["exact_a"]["ER_PRS_F"], extracts["exact_b"]["ER_PRS_F"], EVENT)
    print(f"(date, code, amount) match rate: coarsened {coarse}, exact dates {exact}")
    assert set(extracts["coarse_a"]["ER_PRS_F"].column("EXE_SOI_DTD").to_pylist()) == {"2023-04"}
    assert coarse == 0.0
    # exact dates: each of the 14 claims is the only one on its day — every row links to the other project's
    assert exact == 1.0
