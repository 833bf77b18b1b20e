"""Output requests on both metadata stores: submit, two reviews, release, the ledger row, metrics (columns
named like SQL keywords — ``group``, ``check`` — are quoted on PostgreSQL too)."""

from __future__ import annotations

import pytest

from guichet.airlock import request_services as rs
from guichet.hub import Hub
from tests.airlock_requests_support import PERMIT, setup, write_tables

pytestmark = pytest.mark.store


def test_request_round_trip(store_hub: Hub) -> None:
    a = setup(store_hub)
    write_tables(store_hub)
    req = rs.submit(store_hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="g",
                    context="persons by region", controls="counts of persons")["request"]
    assert req.startswith("R-")
    for c in ("olga", "pierre"):
        rs.review(store_hub, a[c], request=req, decision="approve", reason="fine")
    assert len(rs.release(store_hub, a["operator"], request=req)["files"]) == 1
    shown = rs.show(store_hub, a["alice"], request=req)
    assert shown["state"] == "released" and shown["files"][0]["group"] == "g" and shown["files"][0]["check"]["cells"]
    m = rs.metrics(store_hub, a["operator"])
    assert m["states"] == {"released": 1} and m["turnaround_hours_median"] is not None
