"""No identifier or quasi-identifier value of a malformed input reaches stdout, stderr, logs, audit or
the quarantine's readable parts; lake and quarantine files are encrypted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_hub, run_cli_process

IDS = ["ABCDEFGHIJKLMNOPQ", "QRSTUVWXYZ2345672", "ZZZZZZZZZZZZZZZZ3"]


def test_identifier_values_never_leak(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    home = str(hub.home)
    hub.close()
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"name": "T", "fields": [
        {"name": "PSA", "type": "string", "length": "17"}, {"name": "SEX", "type": "integer"},
        {"name": "N", "type": "integer"}]}))
    f = tmp_path / "t.csv"
    f.write_text("PSA;SEX;N\n" + f"{IDS[0]};1;x\n{IDS[1]};9x;1\n{IDS[2]}!;1;2\n{IDS[0]};1\n" + '"' + IDS[1] + ';1;"3\n')
    key = tmp_path / "cnam.pem"
    assert run_cli_process(["producer", "add", "cnam", "--org", "A", "--key-out", str(key), "--home", home]).code == 0
    outs = [run_cli_process(["deposit", "run", str(f), "--dataset", "T", "--schema", str(schema), "--producer", "cnam",
                             "--identifiers", "PSA:psa", "--identifiers", "SEX:quasi", "--home", home, *extra])
            for extra in ([], ["--json"])]
    rej = run_cli_process(["deposit", "rejections", json.loads(outs[1].stdout)["deposit_id"], "--home", home,
                           "--json"])
    texts = [o.stdout + o.stderr for o in [*outs, rej]]
    for p in Path(home).rglob("*"):
        if p.is_file() and p.suffix in (".jsonl", ".log", ".txt", ".json", ".parquet"):
            texts.append(p.read_bytes().decode("latin-1"))
        if p.suffix == ".parquet":
            assert p.read_bytes()[-4:] == b"PARE"
    for value in IDS:
        assert not any(value in t for t in texts), "an identifier value leaked"
    opened = run_cli_process(["deposit", "rejections", json.loads(outs[1].stdout)["deposit_id"], "--key-file",
                              str(key), "--home", home, "--json"])
    assert IDS[1] in opened.stdout  # the producer, and only with its private key, reads them back
