"""Spec tests of the deposit: a tiny CSV in, the accepted and quarantined rows (with rule, field and row
number) out, on DuckDB through the real service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlglot import exp

from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.run import single_file_request
from guichet.deposit.structure import NotATable
from guichet.engine import check_recorded
from guichet.hub import Hub
from guichet.lake.versions import current_version
from tests.conftest import test_producer

SCHEMA = {
    "name": "T",
    "primaryKey": ["ID"],
    "fields": [
        {"name": "ID", "type": "integer"},
        {"name": "SEX", "type": "integer", "nomenclature": "IR_SEX_V"},
        {"name": "COM", "type": "string", "nomenclature": "IR_GEO_V", "length": "3"},
        {"name": "D1", "type": "date", "format": "%d/%m/%Y"},
        {"name": "D2", "type": "date", "format": "%d%m%Y"},
        {"name": "TS", "type": "datetime", "format": "%d%b%Y:%H:%M:%S"},
        {"name": "YM", "type": "yearmonth"},
        {"name": "AMT", "type": "number", "length": "3,2", "constraints": {"minimum": 0}},
        {"name": "CODE", "type": "string", "constraints": {"pattern": "[A-Z]{2}", "enum": ["AB", "CD"]}},
        {"name": "REQ", "type": "string", "constraints": {"required": True, "maxLength": 4}},
    ],
}
HEADER = "ID;SEX;COM;D1;D2;TS;YM;AMT;CODE;REQ"
GOOD = "{id};1;123;05/01/2020;05012020;01JAN2020:10:11:12;{ym};12.5;AB;x"


def write(tmp: Path, rows: list[str], schema: dict | None = None, name: str = "t.csv",
          newline: str = "\n", encoding: str = "utf-8") -> tuple[Path, Path]:
    f = tmp / name
    f.write_bytes((newline.join([HEADER, *rows]) + newline).encode(encoding))
    s = tmp / "t.json"
    s.write_text(json.dumps(schema or SCHEMA))
    return f, s


def deposit(hub: Hub, f: Path, s: Path, dataset: str = "T", mode: str = "replace"):
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, dataset, s, test_producer(hub), mode, []))
    return r


def rejected(hub: Hub, r) -> dict[int, list[str]]:
    from guichet.accounts.auth import actor_for

    operator = actor_for(hub, hub.config.operator, os_user="test")
    return {x["row"]: x["rules"] for x in deposits.rejections(hub, operator, deposit_id=r.deposit_id)}


def test_every_rule_quarantines_with_field_and_row(hub: Hub, tmp_path: Path) -> None:
    rows = [GOOD.format(id=1, ym="202001"),
            GOOD.format(id=2, ym="2020-02"),
            GOOD.format(id=3, ym="202013"),                        # yearmonth month 13
            "4;7;123;05/01/2020;05012020;01JAN2020:10:11:12;202001;1;AB;x",   # sex not in IR_SEX_V
            "5;1;1234;31/02/2020;05012020;01JAN2020:10:11:12;202001;1;AB;x",  # length, impossible date
            "6;1;123;05/01/2020;05012020;01XXX2020:10:11:12;202001;-1;ZZ;x",  # datetime, minimum, enum
            "7;1;123;05/01/2020;05012020;01JAN2020:10:11:12;202001;1234.5;CD;",  # number length, required
            GOOD.format(id=1, ym="202001"),                        # duplicate primary key (second occurrence)
            "x9;1;123;05/01/2020;05012020;01JAN2020:10:11:12;202001;1;AB;toolong"]  # integer type, maxLength
    f, s = write(tmp_path, rows)
    r = deposit(hub, f, s)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (9, 2, 7)
    got = rejected(hub, r)
    assert got[3] == ["type:YM"]
    assert got[4] == ["nomenclature:SEX"]
    assert set(got[5]) == {"length:COM", "type:D1"}
    assert set(got[6]) == {"type:TS", "minimum:AMT", "enum:CODE"}  # ZZ has the pattern, not the enum
    assert set(got[7]) == {"length:AMT", "required:REQ"}
    assert got[8] == ["primary_key:ID"]
    assert set(got[9]) == {"type:ID", "max_length:REQ"}
    assert r.quarantine_reasons["type"] == 4
    na = {(c["field"], c["rule"]) for c in r.checks_not_applicable}
    assert ("COM", "nomenclature") in na  # IR_GEO_V is not shipped: never invented
    from sqlalchemy import select

    from guichet.lake.tables import DatasetVersion

    with hub.store.read() as session:
        [lineage] = [v.lineage for v in session.execute(select(DatasetVersion)).scalars()]
    statements = lineage.get("sql", [])
    purposes = " | ".join(st["purpose"] for st in statements)
    assert "rules failed by flagged rows of" in purposes and "primary_key of" in purposes
    assert check_recorded(statements) == []  # every statement of this deposit transpiles to Spark


def test_quoted_newlines_crlf_bom_and_latin1_keep_exact_row_numbers(hub: Hub, tmp_path: Path) -> None:
    rows = [GOOD.format(id=1, ym="202001").replace(";x", ';"a\r\nb"'),
            GOOD.format(id=2, ym="bad"),
            GOOD.format(id=3, ym="202001").replace(";x", ';"é;"')]
    f, s = write(tmp_path, rows, newline="\r\n")
    f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    r = deposit(hub, f, s)
    assert (r.rows_in, r.rows_quarantined) == (3, 1) and rejected(hub, r) == {2: ["type:YM"]}
    f2, s2 = write(tmp_path, rows, name="l1.csv", encoding="latin-1")
    r2 = deposit(hub, f2, s2, dataset="T2")
    assert (r2.rows_in, r2.rows_quarantined) == (3, 1) and rejected(hub, r2) == {2: ["type:YM"]}


def test_malformed_rows_are_quarantined_by_row_number(hub: Hub, tmp_path: Path) -> None:
    rows = [GOOD.format(id=1, ym="202001").replace(";x", ';"a\nb"'),
            "2;1;123",                                           # missing columns
            GOOD.format(id=3, ym="202001") + ";extra",            # too many columns
            GOOD.format(id=4, ym="bad")]
    f, s = write(tmp_path, rows)
    r = deposit(hub, f, s)
    got = rejected(hub, r)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (4, 1, 3)
    assert got[2][0].startswith("structure:") and got[3][0].startswith("structure:") and got[4] == ["type:YM"]


@pytest.mark.parametrize("content,why", [
    (b"", "empty"),
    (b"\x1f\x8b\x08\x00binary", "gzip"),
    (b"ID;SEX\n1;1\n", "wrong columns"),
    ((HEADER + "\n" + GOOD.format(id=1, ym="202001") + '\n2;1;"unterminated').encode(), "truncated"),
    ((HEADER + "\n1;\xff\xfe\x00").encode("latin-1"), "NUL"),
])
def test_files_that_are_not_tables_are_rejected_whole(hub: Hub, tmp_path: Path, content: bytes, why: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    s = tmp_path / "t.json"
    s.write_text(json.dumps(SCHEMA))
    with pytest.raises(NotATable) as exc:
        deposit(hub, f, s)
    assert "not a table" in exc.value.message and "bad.csv" in exc.value.message
    assert current_version(hub, "T") is None


def test_idempotent_append_replace_and_spark_transpilation(hub: Hub, tmp_path: Path) -> None:
    f, s = write(tmp_path, [GOOD.format(id=i, ym="202001") for i in range(1, 4)])
    first = deposit(hub, f, s)
    again = deposit(hub, f, s)
    assert again.status == "unchanged" and again.deposit_id == first.deposit_id and again.rows_in == 3
    f2, _ = write(tmp_path, [GOOD.format(id=i, ym="202001") for i in range(4, 6)], name="t2.csv")
    appended = deposit(hub, f2, s, mode="append")
    v = current_version(hub, "T")
    assert v is not None and v.version == appended.version and v.rows == 5 and len(v.files) == 2
    from sqlalchemy import select

    from guichet.lake.tables import DatasetVersion

    with hub.store.read() as session:
        lineages = [row.lineage for row in session.execute(select(DatasetVersion)).scalars()]
    statements = [st for lin in lineages for st in lin.get("sql", [])]
    assert statements and check_recorded(statements) == []
    assert all(lin["schema_sha256"] and lin["input_sha256"] and lin["code_version"] for lin in lineages)


@pytest.mark.parametrize("cap", [None, 1])
def test_duplicates_in_file_order_whether_held_back_or_rewritten(hub: Hub, tmp_path: Path, monkeypatch,
                                                                  cap: int | None) -> None:
    """The second and later occurrences of a key are quarantined, with exact row numbers, both on the fast
    path (held back while streaming) and past the hold-back cap (exact check, then rewrite)."""
    if cap is not None:
        monkeypatch.setattr("guichet.deposit.duplicates.DEFAULT_CAP", cap)
    ids = [1, 2, 1, 3, 2, 1, 4]
    rows = [GOOD.format(id=i, ym="202001") for i in ids]
    rows.insert(3, "9;1;123")  # a malformed row shifts the numbering of the rows after it
    f, s = write(tmp_path, rows)
    r = deposit(hub, f, s)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (8, 4, 4)
    got = rejected(hub, r)
    assert {k: v for k, v in got.items() if not v[0].startswith("structure")} == {
        3: ["primary_key:ID"], 6: ["primary_key:ID"], 7: ["primary_key:ID"]}
    from guichet.engine import Engine
    from guichet.lake import open_version

    with Engine() as engine:
        src = open_version(hub, engine, "T", r.version, published_only=False)
        kept = engine.fetch_all(exp.select("ID", "_source_row").from_(src.view).order_by("_source_row"),
                                purpose="read back")
    assert kept == [(1, 1), (2, 2), (3, 5), (4, 8)]


def test_flagged_rows_quarantined_in_several_rounds_while_streaming(hub: Hub, tmp_path: Path, monkeypatch) -> None:
    """Past FLAGGED_ROWS flagged rows, their rules are computed while the validation query still streams (on a
    connection of their own: DuckDB refuses a second statement on a connection with an open result)."""
    monkeypatch.setattr("guichet.deposit.pipeline.FLAGGED_ROWS", 2)
    rows = [GOOD.format(id=i, ym="202013" if i % 2 else "202001") for i in range(1, 12)]
    f, s = write(tmp_path, rows)
    r = deposit(hub, f, s)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (11, 5, 6)
    assert rejected(hub, r) == {i: ["type:YM"] for i in range(1, 12, 2)}
