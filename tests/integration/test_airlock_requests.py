"""Output requests in-process: submit with groups, context and controls; two blind reviews by independent
checkers; consolidation (approved, changes with a new turn, rejected, a conflict a third checker settles);
overrides need a justification; release copies the files with checksums; show, metrics, the CLI's answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from guichet.airlock import request_services as rs
from guichet.errors import BadInput, Refused
from guichet.hub import Hub
from tests.airlock_requests_support import PERMIT, outputs, setup, write_tables

pytestmark = pytest.mark.integration

CTX = {"context": "persons by sex and region, synthetic cohort", "controls": "counts of persons, threshold 11"}


def _submit(hub: Hub, a: dict, files: list[str], **kw: object) -> dict:
    return rs.submit(hub, a["alice"], permit=PERMIT, files=files, group="tables", **{**CTX, **kw})


def test_submit_review_release(hub: Hub) -> None:
    a = setup(hub)
    write_tables(hub)
    with pytest.raises(BadInput, match="context"):
        rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="tables", context="", controls="x")
    (outputs(hub) / "report.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(BadInput, match="type not allowed"):
        _submit(hub, a, ["report.pdf"])
    with pytest.raises(BadInput):
        _submit(hub, a, ["../../../hub/guichet.toml"])
    r = _submit(hub, a, ["by_region.csv"], supporting=["notes.txt"], title="Persons by region")
    req = r["request"]
    assert r["state"] == "checked" and r["turn"] == 1
    table = next(f for f in r["files"] if f["file"] == "by_region.csv")
    assert table["status"] == "pass" and table["check"]["cells"]
    assert table["sha256"] == hashlib.sha256((outputs(hub) / "by_region.csv").read_bytes()).hexdigest()
    assert next(f for f in r["files"] if f["file"] == "notes.txt")["supporting"]
    (outputs(hub) / "method.txt").write_text("Counts of distinct persons, by the crosstab helper.\n", encoding="utf-8")
    with pytest.raises(BadInput, match="already"):
        rs.submit(hub, a["alice"], permit=PERMIT, files=["by_region.csv"], group="more", add_to=req, **CTX)
    r = rs.submit(hub, a["alice"], permit=PERMIT, files=["method.txt"], group="notes", add_to=req,
                  context="how the tables were made", controls="no numbers")
    assert set(r["groups"]) == {"tables", "notes"} and len(r["files"]) == 3
    shown = rs.show(hub, a["olga"], request=req)
    assert set(shown["proposed"]) <= {"olga", "pierre", "quentin"} and len(shown["proposed"]) == 2
    with pytest.raises(Refused, match="two checkers"):
        rs.release(hub, a["operator"], request=req)
    rs.review(hub, a["olga"], request=req, decision="approve", reason="counts above threshold")
    assert "reviews" not in rs.show(hub, a["pierre"], request=req)["files"][0]  # blind
    assert "reviews" not in rs.show(hub, a["alice"], request=req)["files"][0]
    with pytest.raises(Refused, match="two checkers"):
        rs.release(hub, a["operator"], request=req)
    r = rs.review(hub, a["pierre"], request=req, decision="approve", reason="fine")
    assert r["state"] == "approved" and r["consolidated"] == "approved"
    out = rs.release(hub, a["operator"], request=req)
    assert len(out["files"]) == 2  # never the supporting file
    path = Path(sorted(out["files"])[0])
    assert path.parent == hub.config.home / "outputs" / "released" / req
    assert path.read_bytes() == (outputs(hub) / "by_region.csv").read_bytes()
    final = rs.show(hub, a["alice"], request=req)
    assert final["state"] == "released" and final["files"][0]["reviews"][0]["checker"] is None
    m = rs.metrics(hub, a["operator"])
    assert m["requests"] == 1 and m["files_per_request"] == 2 and m["states"] == {"released": 1}


def test_changes_open_a_new_turn_and_conflicts_need_a_third(hub: Hub) -> None:
    a = setup(hub)
    write_tables(hub)
    (outputs(hub) / "small.csv").write_text("region,n\nARA,120\nBRE,4\n", encoding="utf-8")
    req = _submit(hub, a, ["small.csv"])["request"]
    small = rs.show(hub, a["olga"], request=req)["files"][0]
    assert small["status"] == "fail"
    with pytest.raises(Refused, match="justification"):
        rs.review(hub, a["olga"], request=req, decision="approve", reason="ok")
    rs.review(hub, a["olga"], request=req, decision="approve", reason="the region BRE is public knowledge here")
    r = rs.review(hub, a["pierre"], request=req, decision="changes", reason="suppress BRE")
    assert r["state"] == "checked" and r["conflict"]
    r = rs.review(hub, a["quentin"], request=req, decision="changes", reason="suppress the small cell")
    assert r["state"] == "changes"
    shown = rs.show(hub, a["alice"], request=req)
    assert shown["groups"]["tables"]["comment"] and any("small.csv" in x for x in shown["reasons"])
    assert rs.metrics(hub, a["operator"])["overrides"] == 1
    (outputs(hub) / "small2.csv").write_text("region,n\nARA,120\nBRE,\n", encoding="utf-8")
    r = rs.submit(hub, a["alice"], permit=PERMIT, files=["small2.csv"], group="tables", resubmit=req, **CTX)
    assert r["turn"] == 2 and r["state"] == "checked" and [f["file"] for f in r["files"]] == ["small2.csv"]
    rs.review(hub, a["olga"], request=req, decision="reject", reason="still a plain table")
    r = rs.review(hub, a["pierre"], request=req, decision="reject", reason="no provenance")
    assert r["state"] == "rejected"
    with pytest.raises(Refused):
        rs.release(hub, a["operator"], request=req)


def test_cli_answers(hub: Hub) -> None:
    from tests.conftest import run_cli

    setup(hub)
    write_tables(hub)
    home = str(hub.config.home)

    def cli(*args: str, who: str) -> tuple[int, dict | None, str]:
        r = run_cli([*args, "--home", home, "--json", "--as", who])
        return r.code, (json.loads(r.stdout) if r.code == 0 else None), r.stderr

    code, r, _ = cli("airlock", "submit", PERMIT, "by_region.csv", "--group", "g", "--context", CTX["context"],
                     "--controls", CTX["controls"], who="alice")
    assert code == 0 and r is not None
    req = r["request"]
    code, _, err = cli("airlock", "release", req, who="operator")
    assert code == 2 and "two checkers" in err
    assert cli("airlock", "review", req, "--approve", "--reason", "fine", who="olga")[0] == 0
    code, _, err = cli("airlock", "review", req, "--approve", "--reason", "again", who="olga")
    assert code == 2 and "already" in err
    assert cli("airlock", "review", req, "--approve", "--reason", "fine", who="pierre")[0] == 0
    code, r, _ = cli("airlock", "release", req, who="operator")
    assert code == 0 and r is not None and Path(r["files"][0]).is_file()
    code, r, _ = cli("airlock", "show", req, who="alice")
    assert r is not None and r["state"] == "released" and r["turn"] == 1 and r["files"]


def test_publication_recall_and_download(hub: Hub) -> None:
    from datetime import date, timedelta

    from guichet.errors import NotFound
    from guichet.permits.tables import Permit

    a = setup(hub)
    write_tables(hub)
    req = _submit(hub, a, ["by_region.csv"], title="Persons by region")["request"]
    for c in ("olga", "pierre"):
        rs.review(hub, a[c], request=req, decision="approve", reason="fine")
    name = Path(rs.release(hub, a["operator"], request=req)["files"][0]).name
    assert rs.registry(hub, a["eve"]) == []  # not public yet
    with pytest.raises(NotFound):
        rs.download(hub, a["eve"], request=req, name=name)
    assert rs.download(hub, a["bob"], request=req, name=name).is_file()
    # the results deadline makes it public
    later = date.today() + timedelta(days=30)
    with hub.store.write() as s:
        s.get(Permit, PERMIT).results_due = later  # type: ignore[union-attr]
    assert rs.registry(hub, a["eve"], today=later)[0]["request"] == req
    rs.publish(hub, a["alice"], request=req)
    entry = rs.registry(hub, a["eve"])[0]
    assert entry["title"] == "Persons by region" and entry["checkers"] == 2 and entry["files"][0]["type"] == "csv"
    assert len(entry["files"][0]["sha256"]) == 64
    assert rs.download(hub, a["eve"], request=req, name=name).is_file()
    r = rs.recall(hub, a["operator"], request=req, reason="a cell found disclosive after release")
    assert r["state"] == "recalled" and "eve" in r["notify"] and "alice" in r["notify"]
    entry = rs.registry(hub, a["eve"])[0]
    assert entry["state"] == "recalled" and entry["files"] == [] and "disclosive" in entry["recall_reason"]
    with pytest.raises(NotFound):
        rs.download(hub, a["bob"], request=req, name=name)
    assert not (hub.config.home / "outputs" / "released" / req).exists()
