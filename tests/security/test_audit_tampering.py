"""Tampering with the audit log — in the database or in the mirror files — is detected and located.

Each attack edits, deletes, inserts or reorders events; ``guichet audit verify`` must exit 1 and name the
first bad event. It never repairs: the evidence stays as found.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from guichet.accounts import services as accounts
from guichet.audit.chain import EventFields, event_hash
from guichet.audit.mirror import mirror_path
from guichet.governance import Actor
from guichet.hub import Hub
from tests.conftest import make_hub, run_cli

OP = Actor("operator", frozenset({"operator"}), strong_auth=True)


@pytest.fixture
def busy_hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path)
    for i in range(6):
        accounts.add_user(hub, OP, username=f"user{i}", roles=["researcher"], org="Lab")
    return hub


def _verify(hub: Hub) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = run_cli(["audit", "verify", "--home", str(hub.home), "--json"])
    return r.code, json.loads(r.stdout)


def _sql(hub: Hub, statement: str, **params: object) -> None:
    with hub.store.write_engine.begin() as conn:
        conn.execute(text(statement), params)


def test_untouched_log_verifies(busy_hub: Hub) -> None:
    code, report = _verify(busy_hub)
    assert code == 0 and report["ok"] and report["events"] >= 8 and len(report["head"]) == 64


# --- database attacks -------------------------------------------------------------------------------

def _db_edit(hub: Hub) -> int:
    _sql(hub, "UPDATE audit_events SET actor = 'eve' WHERE seq = 5")
    return 5


def _db_edit_details(hub: Hub) -> int:
    _sql(hub, "UPDATE audit_events SET details = '{}' WHERE seq = 6")
    return 6


def _db_delete(hub: Hub) -> int:
    _sql(hub, "DELETE FROM audit_events WHERE seq = 4")
    return 5


def _db_delete_last(hub: Hub) -> int:
    _sql(hub, "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
    with hub.store.read() as s:
        last = s.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
    return int(last) + 1


def _db_insert(hub: Hub) -> int:
    # A forger renumbers the events after 3 and slips a well-formed event in, chained to event 3.
    with hub.store.write_engine.begin() as conn:
        rows = conn.execute(text("SELECT seq FROM audit_events WHERE seq > 3 ORDER BY seq DESC")).scalars().all()
        for seq in rows:
            conn.execute(text("UPDATE audit_events SET seq = seq + 1 WHERE seq = :s"), {"s": seq})
        prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 3")).scalar_one()
        forged = EventFields(4, "forged", "2026-01-01T00:00:00+00:00", "eve", None, None, "cli", "user.add", "user:eve",
                             "ok", None, "{}")
        conn.execute(text("INSERT INTO audit_events (seq, event_id, at, actor, token_id, os_user, channel, action, object,"
                          " outcome, reason, details, prev_hash, hash) VALUES (:seq, :event_id, :at, :actor, :token_id,"
                          " :os_user, :channel, :action, :object, :outcome, :reason, :details, :prev, :hash)"),
                     {**forged.to_dict(), "prev": prev, "hash": event_hash(prev, forged)})
    return 5


def _db_reorder(hub: Hub) -> int:
    with hub.store.write_engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 4"))
        conn.execute(text("UPDATE audit_events SET seq = 4 WHERE seq = 5"))
        conn.execute(text("UPDATE audit_events SET seq = 5 WHERE seq = -1"))
    return 4


@pytest.mark.parametrize("attack", [_db_edit, _db_edit_details, _db_delete, _db_delete_last, _db_insert, _db_reorder],
                         ids=lambda f: f.__name__)
def test_database_tampering_is_detected(busy_hub: Hub, attack: Callable[[Hub], int]) -> None:
    expected = attack(busy_hub)
    code, report = _verify(busy_hub)
    assert code == 1 and not report["ok"]
    bad = report["first_bad"]
    assert bad["where"] == "database" and bad["seq"] == expected, bad


# --- file attacks -----------------------------------------------------------------------------------

def _lines(hub: Hub) -> list[str]:
    return mirror_path(hub.audit_dir).read_text(encoding="utf-8").splitlines(keepends=True)


def _write(hub: Hub, lines: list[str]) -> None:
    mirror_path(hub.audit_dir).write_text("".join(lines), encoding="utf-8")


def _file_edit(hub: Hub) -> int:
    lines = _lines(hub)
    obj = json.loads(lines[4])
    obj["actor"] = "eve"
    lines[4] = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    _write(hub, lines)
    return 5


def _file_delete(hub: Hub) -> int:
    lines = _lines(hub)
    del lines[2]
    _write(hub, lines)
    return 4


def _file_insert(hub: Hub) -> int:
    lines = _lines(hub)
    lines.insert(3, lines[3])
    _write(hub, lines)
    return 4


def _file_reorder(hub: Hub) -> int:
    lines = _lines(hub)
    lines[3], lines[4] = lines[4], lines[3]
    _write(hub, lines)
    return 5


def _file_rewrite_consistently(hub: Hub) -> int:
    """A forger who rewrites the file's chain perfectly is still caught by the database's copy."""
    lines = _lines(hub)
    prev = json.loads(lines[2])["hash"]
    out = lines[:3]
    for raw in lines[3:]:
        obj = json.loads(raw)
        obj.pop("prev_hash"), obj.pop("hash")
        if obj["seq"] == 4:
            obj["actor"] = "eve"
        fields = EventFields(**obj)
        h = event_hash(prev, fields)
        out.append(json.dumps({**obj, "prev_hash": prev, "hash": h}, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False) + "\n")
        prev = h
    _write(hub, out)
    return 4


@pytest.mark.parametrize("attack", [_file_edit, _file_delete, _file_insert, _file_reorder, _file_rewrite_consistently],
                         ids=lambda f: f.__name__)
def test_file_tampering_is_detected(busy_hub: Hub, attack: Callable[[Hub], int]) -> None:
    expected = attack(busy_hub)
    code, report = _verify(busy_hub)
    assert code == 1 and not report["ok"]
    bad = report["first_bad"]
    assert bad["where"] == "files" and bad["seq"] == expected, bad


def test_verify_never_repairs(busy_hub: Hub) -> None:
    _file_delete(busy_hub)
    before = mirror_path(busy_hub.audit_dir).read_bytes()
    _verify(busy_hub)
    assert mirror_path(busy_hub.audit_dir).read_bytes() == before


def test_doctor_completes_a_torn_or_missing_tail_without_rewriting(busy_hub: Hub) -> None:
    path = mirror_path(busy_hub.audit_dir)
    full = path.read_bytes()
    lines = full.splitlines(keepends=True)
    torn = b"".join(lines[:-3]) + lines[-3][: len(lines[-3]) // 2]
    path.write_bytes(torn)
    code, report = _verify(busy_hub)
    assert code == 0 and report["mirror"]["behind"] == 3
    r = run_cli(["doctor", "--home", str(busy_hub.home), "--json"])
    assert r.code == 0, r.stderr
    items = {i["name"]: i for i in json.loads(r.stdout)["items"]}
    assert items["audit mirror"]["status"] == "repaired"
    repaired = path.read_bytes()
    assert repaired.startswith(torn) and repaired.startswith(full)
    code, report = _verify(busy_hub)
    assert code == 0 and report["mirror"]["behind"] == 0


def test_doctor_refuses_to_touch_a_forged_tail(busy_hub: Hub) -> None:
    path = mirror_path(busy_hub.audit_dir)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + b'{"seq": 999, "forged')
    before = path.read_bytes()
    r = run_cli(["doctor", "--home", str(busy_hub.home), "--json"])
    assert r.code == 1
    assert path.read_bytes() == before


def test_a_tail_cut_in_the_files_alone_is_a_problem_once_it_is_not_in_flight(busy_hub: Hub) -> None:
    """Cutting the files' last events (and not the database's) is reported as a cut, not as 'behind'; the
    only gap tolerated is one younger than the time a writer takes to append what it committed."""
    from datetime import UTC, datetime, timedelta

    from guichet.audit.verify import IN_FLIGHT_SECONDS, verify

    path = mirror_path(busy_hub.audit_dir)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-3]))
    now = datetime.now(UTC)
    fresh = verify(busy_hub.store, busy_hub.audit_dir, now=now)
    assert fresh.ok and fresh.mirror_behind == 3  # as if a writer were still appending them
    later = verify(busy_hub.store, busy_hub.audit_dir, now=now + timedelta(seconds=IN_FLIGHT_SECONDS + 5))
    assert not later.ok and later.first_bad is not None
    assert later.first_bad.where == "files" and later.first_bad.seq == len(lines) - 2
    assert "tail was cut" in later.first_bad.problem


def test_a_tail_cut_in_the_database_alone_is_a_problem(busy_hub: Hub) -> None:
    count = len(mirror_path(busy_hub.audit_dir).read_bytes().splitlines())
    _sql(busy_hub, "DELETE FROM audit_events WHERE seq > :n", n=count - 2)
    row = f"SELECT hash FROM audit_events WHERE seq = {count - 2}"
    _sql(busy_hub, f"UPDATE audit_head SET seq = :n, hash = ({row}) WHERE id = 1", n=count - 2)
    code, report = _verify(busy_hub)
    assert code == 1 and report["first_bad"]["where"] == "database"
    assert report["first_bad"]["seq"] == count - 1
