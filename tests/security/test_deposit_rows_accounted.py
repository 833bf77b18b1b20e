"""No row is lost or renumbered without a word, whatever the file holds: rows larger than the reader's
buffer, blank and whitespace-only lines, a pipe where a file should be, a manifest whose row count or
producer is wrong, a schema the engine cannot run. Each row is checked by reading the lake and the
quarantine back against the file."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from guichet.actor import system_actor
from guichet.deposit import services as deposits
from guichet.deposit.manifest import read_manifest
from guichet.deposit.model import DepositRequest
from guichet.deposit.run import single_file_request
from guichet.deposit.structure import NotATable
from guichet.errors import BadInput
from guichet.hub import Hub
from tests.conftest import make_hub, run_cli_process, test_producer
from tests.lake_rows import lake_table, quarantined

SCHEMA = {"name": "T", "primaryKey": ["ID"], "fields": [{"name": "ID", "type": "integer"},
                                                       {"name": "V", "type": "string"}]}


@pytest.fixture
def gate_off(hub: Hub) -> Hub:
    hub.config = hub.config.with_properties(quality_gate=False)
    return hub


def _deposit(hub: Hub, tmp: Path, body: bytes, schema: dict | None = None):  # type: ignore[no-untyped-def]
    f, s = tmp / "t.csv", tmp / "t.json"
    f.write_bytes(b"ID;V\n" + body)
    s.write_text(json.dumps(schema or SCHEMA))
    [r] = deposits.deposit(hub, system_actor(), request=single_file_request(f, "T", s, test_producer(hub), "replace", []))
    return r


def _lake_rows(hub: Hub) -> dict[int, int]:
    """{_source_row: ID} of the accepted rows."""
    t = lake_table(hub, "T", ["ID"])
    return dict(zip(t.column("_source_row").to_pylist(), t.column("ID").to_pylist(), strict=True))


@pytest.mark.parametrize("size", [3 << 20, 33 << 20], ids=["3MB", "33MB"])
@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted-multiline"])
def test_an_oversized_row_is_quarantined_at_its_number(gate_off: Hub, tmp_path: Path, size: int, quoted: bool) -> None:
    # a field over the reader's 2 MB row limit (3 MB) and over its 32 MB buffer (33 MB): the second vanished
    # with every row after it, rows_in one less and nothing quarantined
    big = ("x" * 99 + "\n") * (size // 100) if quoted else "x" * size
    cell = f'"{big}"' if quoted else big
    r = _deposit(gate_off, tmp_path, f"1;a\n2;{cell}\n3;c\n4;d;extra\n5;e\n".encode())
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (5, 3, 2)
    assert quarantined(gate_off, "T") == {2: "structure:line_size_over_maximum", 4: "structure:too_many_columns"}
    assert _lake_rows(gate_off) == {1: 1, 3: 3, 5: 5}


def test_blank_and_whitespace_lines_keep_every_row_at_its_number(gate_off: Hub, tmp_path: Path) -> None:
    # the reader skipped the blank line without a word: every later row took the number of the one before
    r = _deposit(gate_off, tmp_path, b"1;a\n   \n3;c\n\n5;e\n \t \n7;g\n\r\n9;i\n")
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (9, 5, 4)
    assert quarantined(gate_off, "T") == {2: "structure:missing_columns", 4: "structure:blank_row",
                                          6: "structure:missing_columns", 8: "structure:blank_row"}
    assert _lake_rows(gate_off) == {1: 1, 3: 3, 5: 5, 7: 7, 9: 9}


def test_a_long_run_of_malformed_rows_loses_nothing(gate_off: Hub, tmp_path: Path) -> None:
    # past ~620k rejected rows the parallel reader stopped reading: here 30,000 rejected between good rows
    body = b"".join(b"%d;v;x\n" % i if i % 20_000 else b"%d;v\n" % i for i in range(1, 60_001))
    r = _deposit(gate_off, tmp_path, body)
    assert (r.rows_in, r.rows_accepted, r.rows_quarantined) == (60_000, 3, 59_997)
    assert _lake_rows(gate_off) == {20_000: 20_000, 40_000: 40_000, 60_000: 60_000}


def test_a_file_of_malformed_rows_is_refused_whole(gate_off: Hub, tmp_path: Path) -> None:
    # DuckDB keeps every rejected row in memory until its scan ends (2.9 GB for 1M): past 100,000 the file is
    # not the schema's table, and it is refused before they are recorded
    with pytest.raises(NotATable, match=r"100,000 of its 100,001 rows cannot be split into the schema's 2 columns"):
        _deposit(gate_off, tmp_path, b"1;a\n" + b"2;b;c\n" * 100_000)


def _with_timeout(seconds: float, call):  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still blocked after {seconds} s"
    return out


def _delivery(tmp: Path, tables: str, files: dict[str, bytes]) -> Path:
    folder = tmp / "delivery"
    folder.mkdir()
    (folder / "s.json").write_text(json.dumps(SCHEMA))
    for name, body in files.items():
        (folder / name).write_bytes(body)
    (folder / "manifest.toml").write_text('format = "guichet-delivery/1"\n\n' + tables)
    return folder


def _table(name: str, extra: str = 'producer = "cnam"\n') -> str:
    return f'[[tables]]\nname = "{name}"\nfile = "{name}.csv"\nschema = "s.json"\n{extra}\n'


def test_a_pipe_given_as_a_table_is_refused_not_waited_on(gate_off: Hub, tmp_path: Path) -> None:
    test_producer(gate_off)
    folder = _delivery(tmp_path, _table("A"), {})
    os.mkfifo(folder / "A.csv")
    _domain, tables = read_manifest(folder, folder / "manifest.toml")
    out = _with_timeout(30, lambda: deposits.deposit(gate_off, system_actor(),
                                                     request=DepositRequest(tuple(tables), delivery=True)))
    assert isinstance(out.get("error"), NotATable) and "not a regular file" in str(out["error"])
    os.unlink(folder / "s.json")
    os.mkfifo(folder / "s.json")
    out = _with_timeout(30, lambda: deposits.deposit(gate_off, system_actor(),
                                                     request=DepositRequest(tuple(tables), delivery=True)))
    assert isinstance(out.get("error"), BadInput) and "not a regular file" in str(out["error"])


def test_a_manifest_without_producer_is_refused(tmp_path: Path) -> None:
    folder = _delivery(tmp_path, _table("A", extra=""), {"A.csv": b"ID;V\n1;a\n"})
    with pytest.raises(BadInput, match=r"tables\[0\]: producer is required"):
        read_manifest(folder, folder / "manifest.toml")


def test_rows_that_disagree_with_the_manifest_refuse_the_table(gate_off: Hub, tmp_path: Path) -> None:
    test_producer(gate_off)
    folder = _delivery(tmp_path, _table("A", 'producer = "cnam"\nrows = 2\n') + _table("B", 'producer = "cnam"\nrows = 3\n'),
                       {"A.csv": b"ID;V\n1;a\n2;b\n", "B.csv": b"ID;V\n1;a\n2;b\n"})
    _domain, tables = read_manifest(folder, folder / "manifest.toml")
    with pytest.raises(NotATable, match=r"B\.csv: the manifest declares 3 data rows but the file holds 2"):
        deposits.deposit(gate_off, system_actor(), request=DepositRequest(tuple(tables), delivery=True))
    results = {r.dataset: r for r in deposits.deposit(gate_off, system_actor(), request=DepositRequest(
        tuple(tables), delivery=True, partial=True))}
    assert results["A"].status == "published" and results["A"].rows_in == 2
    assert results["B"].status == "rejected" and "declares 3 data rows" in (results["B"].error or "")


@pytest.mark.parametrize("schema,why", [
    ({"name": "W", "fields": [{"name": f"C{i}", "type": "integer"} for i in range(10_000)]},
     "10,000 fields; a deposited table has at most 2,000 columns"),
    ({"name": "P", "fields": [{"name": "V", "type": "string", "constraints": {"pattern": "a(b"}}]},
     "field V: pattern 'a(b' is not a regular expression the hub can run"),
    ({"name": "P", "fields": [{"name": "V", "type": "string", "constraints": {"pattern": "(?=a)a"}}]},
     "field V: pattern '(?=a)a' is not a regular expression the hub can run"),
], ids=["10k-columns", "invalid-regex", "look-ahead"])
def test_a_schema_the_engine_cannot_run_is_refused_in_one_line(tmp_path: Path, schema: dict, why: str) -> None:
    hub = make_hub(tmp_path)
    home = str(hub.home)
    test_producer(hub)
    hub.close()
    names = [f["name"] for f in schema["fields"]]
    f, s = tmp_path / "t.csv", tmp_path / "t.json"
    f.write_text(";".join(names) + "\n" + ";".join("a" for _ in names) + "\n")
    s.write_text(json.dumps(schema))
    done = run_cli_process(["deposit", "run", str(f), "--dataset", "T", "--schema", str(s), "--producer", "cnam", "--home", home])
    assert done.code == 2
    assert done.stderr.strip().splitlines() == [f"guichet: t.json: {why} (RE2 syntax: no look-ahead, look-behind "
                                                "or back-reference)" if "pattern" in why else f"guichet: t.json: {why}"]
