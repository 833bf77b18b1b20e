"""A synthetic delivery, pseudonymised as a producer does and deposited through the CLI: every lake row's
``_source_row`` points at the delivered file's row with the same values, and every quarantined row number
at a row the synthetic truth lists as defective.

Two sizes: 20,000 persons with the engine's defaults — the size at which claims landed on the wrong persons
(row numbers followed the validation query's batch order: 300,061 of 362,269 claim rows pointed elsewhere)
— and 1,000 persons read with a 64 KB CSV buffer and four threads, which split ~20k claim rows across
threads as the defaults split the larger file."""

from __future__ import annotations

import csv
import json
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from guichet.config import load_config, save_config
from guichet.hub import open_hub
from tests.conftest import run_cli
from tests.lake_rows import lake_table, quarantined

pytestmark = pytest.mark.integration
TABLES = ("IR_BEN_R", "ER_PRS_F", "ER_PHA_F", "T_MCO23C")


SIZES = {"20000-defaults": (20_000, {}),
         "1000-small-buffers": (1_000, {"deposit_csv_buffer_size": 64 * 1024, "deposit_threads": 4})}


def _deposited(root: Path, persons: int, engine: dict[str, int]) -> tuple[Path, Path, Path]:
    """(hub home, the level-1 delivery, the synthetic truth)."""
    home, cust, clear, level1, key = (root / n for n in ("hub", "cust", "clear", "level1", "snds.key"))
    env = {"GUICHET_HOME": str(home)}
    assert run_cli(["init", "--home", str(home), "--custodian-home", str(cust), "--mode", "development"]).code == 0
    save_config(load_config(home).with_properties(quality_gate=False, **engine))
    res = run_cli(["synth", "--persons", str(persons), "--start", "2023-01-01", "--end", "2023-12-31", "--seed",
                   "424243", "--defect-rate", "0.02", "--out", str(clear)])
    assert res.code == 0, res.stderr
    for name in ("cnam", "atih", "cepidc"):
        assert run_cli(["producer", "add", name, "--org", name, "--key-out", str(root / f"{name}.pem"),
                        "--as", "operator"], env).code == 0
    assert run_cli(["custodian", "domain-key", "--domain", "snds", "--out", str(key),
                    "--custodian-home", str(cust)]).code == 0
    assert run_cli(["producer", "pseudonymise", str(clear), "--manifest", str(clear / "manifest.toml"),
                    "--key-file", str(key), "--out", str(level1)]).code == 0
    res = run_cli(["deposit", "run", str(level1), "--manifest", str(level1 / "manifest.toml"), "--as", "operator",
                   "--json"], env)
    assert res.code in (0, 1), res.stderr
    return home, level1, clear / "truth"


def _as_text(value: object, kind: str) -> str | None:
    if value is None:
        return None
    if kind in ("integer", "year"):
        return str(int(value))  # type: ignore[call-overload]
    if kind == "date":
        return value.isoformat()  # type: ignore[attr-defined]
    return str(value)


def _comparable(schema: dict, identifiers: set[str]) -> dict[str, str]:
    """Columns whose lake value written back as text is the delivered cell: not identifiers (hub pseudonyms
    in the lake), not numbers (their text form varies), dates only in ISO form."""
    return {f["name"]: f["type"] for f in schema["fields"] if f["name"] not in identifiers and
            (f["type"] in ("string", "integer", "year") or (f["type"] == "date" and "format" not in f))}


@pytest.mark.parametrize("size", list(SIZES))
def test_every_row_of_the_lake_and_the_quarantine_is_the_files(tmp_path: Path, size: str) -> None:
    home, level1, truth = _deposited(tmp_path, *SIZES[size])
    with (truth / "defects.csv").open(encoding="utf-8", newline="") as fh:
        defective: dict[str, set[int]] = defaultdict(set)
        for rec in csv.DictReader(fh):
            if rec["row_number"]:
                defective[rec["table"]].add(int(rec["row_number"]))
    manifest = tomllib.loads((level1 / "manifest.toml").read_text(encoding="utf-8"))
    entries = {t["name"]: t for t in manifest["tables"]}
    hub = open_hub(home)
    try:
        for name in TABLES:
            entry = entries[name]
            schema = json.loads((level1 / entry["schema"]).read_text(encoding="utf-8"))
            columns = _comparable(schema, {i["column"] for i in entry["identifiers"] if i["kind"] != "quasi"})
            with (level1 / entry["file"]).open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh, delimiter=entry["delimiter"])
                rows = [None, *reader]
            lake = lake_table(hub, entry["dataset"], list(columns))
            values = {c: lake.column(c).to_pylist() for c in columns}
            numbers = lake.column("_source_row").to_pylist()
            wrong = [n for i, n in enumerate(numbers)
                     if any(_as_text(values[c][i], kind) != (rows[n][c] or None)  # type: ignore[index]
                            for c, kind in columns.items())]
            assert not wrong, f"{name}: {len(wrong)} of {len(numbers)} lake rows point at another file row"
            held_back = set(quarantined(hub, entry["dataset"]))
            assert held_back <= defective[name], f"{name}: quarantined rows the truth does not list as defective"
            assert len(numbers) + len(held_back) == entry["rows"] and len(held_back) > 0, name
    finally:
        hub.close()
