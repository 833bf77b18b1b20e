"""The transparency desks on the command line: complaints (a NIR in the text refused, exit 2, stored nowhere;
a reference; the operator's list and update), an objection recorded on a citizen's behalf, and the activity
report of an empty year (figures at 0, what is not offered said so)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guichet.custodian import nir as nirs
from guichet.hub import Hub
from tests.conftest import run_cli

NIR = nirs.with_key("1850575123456")


def _run(hub: Hub, *args: str) -> Any:
    return run_cli([*args, "--home", str(hub.home)])


def _ok(hub: Hub, *args: str) -> Any:
    r = _run(hub, *args, "--json")
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def test_complaints_on_the_command_line(hub: Hub) -> None:
    r = _run(hub, "complaint", "add", "--topic", "other", "--text", f"about {NIR}")
    assert r.code == 2 and "looks like it contains" in r.stderr and NIR not in r.stderr
    ref = _ok(hub, "complaint", "add", "--topic", "optout", "--text", "Letter not answered", "--channel", "post")
    assert ref["reference"].startswith("C-") and ref["reference"].endswith("-0001")
    listed = _ok(hub, "complaint", "list")
    assert [(c["reference"], c["channel"], c["status"]) for c in listed] == [(ref["reference"], "post", "received")]
    assert NIR not in json.dumps(listed)
    done = _ok(hub, "complaint", "update", ref["reference"], "--status", "closed", "--answer", "Answered by post")
    assert (done["status"], done["answer"]) == ("closed", "Answered by post")
    assert _run(hub, "complaint", "update", "C-2000-0009", "--status", "closed").code == 2


def test_an_operator_records_an_objection_received_at_a_counter(hub: Hub) -> None:
    receipt = _ok(hub, "optout", "record", "--nir", NIR, "--birth-date", "1985-05-03", "--received-by", "counter")
    assert len(receipt["receipt"]) == 26
    assert _ok(hub, "optout", "count") == {"active": 1, "withdrawn": 0}
    found = _ok(hub, "optout", "record", "--nir", NIR, "--birth-date", "1985-05-03", "--received-by", "post",
                "--kind", "no-findings")
    assert _ok(hub, "optout", "count") == {"active": 1, "withdrawn": 0}  # a findings preference is not an objection
    assert _run(hub, "optout", "withdraw", "--receipt", found["receipt"]).code == 2


def test_the_report_of_an_empty_year(hub: Hub, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = _run(hub, "report", "activity", "--period", "2024", "--html", str(out))
    assert r.code == 0, r.stderr
    assert "Applications: 0 received, 0 granted, 0 refused; median decision time —" in r.stdout
    assert "Statistics requests: 0 received, 0 answers released, 0 refused, 0 in progress" in r.stdout
    assert ("Releases of results: 0 requests submitted, 0 released (0 files), 0 rejected, 0 recalled; "
            "median turnaround —") in r.stdout
    assert out.read_text(encoding="utf-8").count("<svg") == 3
