"""A delivery (manifest) is atomic across its tables unless --partial; spill folders left by a killed
deposit are removed by the next start and by doctor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guichet.catalogue.versions import published_versions, versions
from guichet.deposit import services as deposits
from guichet.deposit.manifest import read_manifest
from guichet.deposit.model import DepositRequest
from guichet.deposit.structure import NotATable
from guichet.engine.connection import _spill_base, spill_directory
from guichet.governance.actors import system_actor
from guichet.hub import Hub
from tests.conftest import make_hub, run_cli_process

SCHEMA = {"name": "T", "primaryKey": ["ID"], "fields": [{"name": "ID", "type": "integer"},
                                                       {"name": "V", "type": "string"}]}


def _delivery(tmp: Path, b_content: bytes) -> Path:
    folder = tmp / "delivery"
    folder.mkdir()
    (folder / "s.json").write_text(json.dumps(SCHEMA))
    (folder / "A.csv").write_text("ID;V\n1;a\n2;b\n")
    (folder / "B.csv").write_bytes(b_content)
    tables = "".join(f'[[tables]]\nname = "{n}"\nfile = "{n}.csv"\nschema = "s.json"\nproducer = "cnam"\n\n'
                     for n in ("A", "B"))
    (folder / "manifest.toml").write_text('format = "guichet-delivery/1"\n\n' + tables)
    return folder


@pytest.mark.parametrize("b_content,why", [
    (b"ID;V\n1;a\n2;\"cut", "truncated"),  # found while staging
    (b"\x1f\x8b\x08binary", "gzip"),  # found before staging
])
def test_a_delivery_is_atomic_unless_partial(hub: Hub, tmp_path: Path, b_content: bytes, why: str) -> None:
    hub.config = hub.config.with_properties(quality_gate=False)
    deposits.add_producer(hub, system_actor(), name="cnam", org="A")
    folder = _delivery(tmp_path, b_content)
    _domain, tables = read_manifest(folder, folder / "manifest.toml")
    with pytest.raises(NotATable, match=why):
        deposits.deposit(hub, system_actor(), request=DepositRequest(tuple(tables), delivery=True))
    assert published_versions(hub, "A") == [] and published_versions(hub, "B") == []
    assert {v.status for v in versions(hub, "A", include_all=True)} <= {"rolled_back"}
    assert not [p for p in (hub.config.folder("lake") / "A").glob("v*")]
    results = deposits.deposit(hub, system_actor(), request=DepositRequest(tuple(tables), delivery=True,
                                                                            partial=True))
    by = {r.dataset: r for r in results}
    assert by["A"].status == "published" and by["A"].rows_accepted == 2
    assert by["B"].status == "rejected" and why in (by["B"].error or "") and by["B"].version is None
    assert [v.rows for v in published_versions(hub, "A")] == [2] and published_versions(hub, "B") == []


def test_partial_on_the_command_line_exits_2_and_keeps_the_readable_tables(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "h")
    deposits.add_producer(hub, system_actor(), name="cnam", org="A")
    home = str(hub.home)
    hub.close()
    folder = _delivery(tmp_path, b"ID;V\n1;a\n2;\"cut")
    base = ["deposit", "run", str(folder), "--manifest", str(folder / "manifest.toml"), "--home", home, "--json"]
    whole = run_cli_process(base)
    assert whole.code == 2 and "B.csv" in whole.stderr and "truncated" in whole.stderr
    part = run_cli_process([*base, "--partial"])
    assert part.code == 2, part.stderr
    answer = {r["dataset"]: r for r in json.loads(part.stdout)}
    assert answer["A"]["rows_accepted"] == 2 and answer["B"]["status"] == "rejected"


def _spill_of_a_killed_process() -> Path:
    """The spill folder of a process that made one and was killed (kill -9) before it could remove it."""
    code = "from guichet.engine.connection import spill_directory; import time; print(spill_directory(), flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    left = Path(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return left


def test_spill_folders_of_a_killed_process_are_removed(tmp_path: Path) -> None:
    left = _spill_of_a_killed_process()
    assert left.is_dir() and left.parent == _spill_base()
    mine = spill_directory()  # the next start cleans up
    try:
        assert not left.exists() and mine.is_dir()
    finally:
        mine.rmdir()
    left = _spill_of_a_killed_process()
    hub = make_hub(tmp_path / "d")
    home = str(hub.home)
    hub.close()
    deadline = time.monotonic() + 5
    while not left.is_dir() and time.monotonic() < deadline:  # pragma: no cover - only if the fs is slow
        time.sleep(0.1)
    doctor = run_cli_process(["doctor", "--home", home, "--json"])
    assert doctor.code == 0, doctor.stderr
    assert not left.exists()
