"""``guichet cgm``: metrics against the reference table on the real files, the Dexcom export and mmol/L
files; the alerts' evidence, plots and scores, recomputed here by a scorer of the test's own; bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cgm_support import CGM_DATA, REFERENCE
from tests.conftest import run_cli, run_cli_process

DEXCOM = Path(__file__).resolve().parents[1] / "data" / "cgm" / "dexcom_clarity_export_sample.csv"
COLUMNS = ["dataset", "id", "n_readings", "start", "end", "days", "active_percent", "mean_mgdl", "sd_mgdl",
           "cv_percent", "gmi_percent", "tbr_lt54", "tbr_lt70", "tir_70_180", "tar_gt180", "tar_gt250", "gri",
           "meets_14d_70pct"]
# The tolerances: 0.1 percentage point, 0.01 GMI, 0.1 mg/dL; the reference rounds to one decimal
# (two for GMI and percentages), so half a unit of its last digit is added.
TOLERANCE = {"days": 0.05, "active_percent": 0.1 + 0.05, "mean_mgdl": 0.1 + 0.05, "sd_mgdl": 0.1 + 0.05,
             "cv_percent": 0.1 + 0.05, "gmi_percent": 0.01 + 0.005, "gri": 0.1 + 0.05,
             **{k: 0.1 + 0.005 for k in ("tbr_lt54", "tbr_lt70", "tir_70_180", "tar_gt180", "tar_gt250")}}


def cgm_json(*args: str) -> Any:
    result = run_cli(["cgm", *args, "--json"])
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def reference() -> dict[tuple[str, str], dict[str, str]]:
    with REFERENCE.open(encoding="utf-8") as f:
        return {(r["dataset"], r["id"]): r for r in csv.DictReader(f)}


def assert_matches_reference(rows: list[dict[str, Any]], dataset: str) -> None:
    ref = {k: v for k, v in reference().items() if k[0] == dataset}
    assert {(r["dataset"], r["id"]) for r in rows} == set(ref)
    for row in rows:
        expected = ref[(row["dataset"], row["id"])]
        assert row["n_readings"] == int(expected["n_readings"])
        assert (row["start"], row["end"]) == (expected["start"], expected["end"])
        assert row["meets_14d_70pct"] is (expected["meets_14d_70pct"] == "yes")
        for key, tolerance in TOLERANCE.items():
            assert abs(row[key] - float(expected[key])) <= tolerance, (row["id"], key, row[key], expected[key])


@pytest.mark.parametrize("dataset", ["example_data_5_subject", "example_data_hall"])
def test_metrics_match_the_reference_table(dataset: str) -> None:
    rows = cgm_json("metrics", str(CGM_DATA / f"{dataset}.csv"))
    assert all(list(r) == COLUMNS for r in rows)
    assert_matches_reference(rows, dataset)


def test_mmol_per_litre_files_match_the_reference_table(tmp_path: Path) -> None:
    with (CGM_DATA / "example_data_5_subject.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    target = tmp_path / "example_data_5_subject.csv"
    with target.open("w", encoding="utf-8", newline="") as f:  # no unit in the header: the values say it
        writer = csv.writer(f)
        writer.writerow(["id", "time", "gl"])
        writer.writerows([r["id"], r["time"], repr(float(r["gl"]) / 18)] for r in rows)
    result = run_cli(["cgm", "metrics", str(target), "--json"])
    assert "read as mmol/L" in result.stderr
    assert_matches_reference(json.loads(result.stdout), "example_data_5_subject")


def test_dexcom_clarity_export() -> None:
    [row] = cgm_json("metrics", str(DEXCOM))
    assert list(row) == COLUMNS
    assert (row["dataset"], row["id"], row["n_readings"]) == (DEXCOM.stem, DEXCOM.stem, 2148)
    assert (row["start"], row["end"]) == ("2016-10-24 11:24:17", "2016-11-01 09:19:02")
    assert row["tir_70_180"] + row["tbr_lt70"] + row["tar_gt180"] == pytest.approx(100)


def _dexcom_in_mmol(tmp_path: Path) -> Path:
    lines = DEXCOM.read_text(encoding="utf-8-sig").splitlines()
    out = [lines[0].replace("Glucose Value (mg/dL)", "Glucose Value (mmol/L)")]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[2] == "EGV":
            cells[7] = repr(float(cells[7]) / 18)
        out.append(",".join(cells))
    target = tmp_path / "clarity_mmol.csv"
    target.write_text("\ufeff" + "\r\n".join(out) + "\r\n", encoding="utf-8")
    return target


def test_a_dexcom_export_in_mmol_per_litre_gives_the_same_metrics(tmp_path: Path) -> None:
    [mg] = cgm_json("metrics", str(DEXCOM))
    [mmol] = cgm_json("metrics", str(_dexcom_in_mmol(tmp_path)))
    assert {k: v for k, v in mmol.items() if k not in ("dataset", "id")} == \
        {k: v for k, v in mg.items() if k not in ("dataset", "id")}


def test_low_and_high_readings_count_at_the_sensors_limits(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text("id,time,gl\na,2024-01-01 00:00:00,Low\na,2024-01-01 00:05:00,High\na,2024-01-01 00:10:00,NA\n"
                 "a,2024-01-01 00:15:00,100\n")
    result = run_cli(["cgm", "metrics", str(f), "--json"])
    [row] = json.loads(result.stdout)
    assert row["n_readings"] == 3 and row["mean_mgdl"] == pytest.approx((40 + 400 + 100) / 3)
    assert row["tbr_lt54"] == pytest.approx(100 / 3)
    assert "1 row(s) without a glucose value" in result.stderr and "1 'Low' and 1 'High'" in result.stderr


# ---- alerts ---------------------------------------------------------------------------------------------


def iso(text: str) -> datetime:
    assert "+" not in text and not text.endswith("Z"), f"{text}: the file's local time carries no offset"
    return datetime.fromisoformat(text)


def recompute(answer: dict[str, Any], level: int | None = None) -> dict[str, Any]:
    """Scores from the answer's alerts and episodes alone, with datetimes rather than the code's arrays."""
    horizon = timedelta(minutes=answer["scoring"]["horizon_min"])
    eps = [e for e in answer["episodes"]]
    inside = {(e["id"], iso(e["start"]), iso(e["end"])) for e in eps if e["level"] == 1}
    targets = [e for e in eps if e["level"] == (level or 1)]

    def predicting(alert: dict[str, Any], episode: dict[str, Any]) -> bool:
        t = iso(alert["time"])
        if any(sid == alert["id"] and s <= t <= e for sid, s, e in inside):
            return False
        return alert["id"] == episode["id"] and iso(episode["start"]) - horizon <= t < iso(episode["start"])

    alerts = answer["alerts"]
    leads = []
    for episode in targets:
        times = [iso(a["time"]) for a in alerts if predicting(a, episode)]
        if times:
            leads.append((iso(episode["start"]) - min(times)).total_seconds() / 60)
    true_alerts = sum(any(predicting(a, e) for e in targets) for a in alerts)
    days = sum(s["days_of_data"] for s in answer["subjects"])
    leads.sort()
    median = None if not leads else (leads[len(leads) // 2] + leads[(len(leads) - 1) // 2]) / 2
    return {"sensitivity": len(leads) / len(targets) if targets else None,
            "ppv": true_alerts / len(alerts) if alerts else None,
            "false_alerts_per_day": (len(alerts) - true_alerts) / days, "median_lead_time_min": median}


def assert_scores(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert got[key] == pytest.approx(value) if value is not None else got[key] is None, key


def test_alerts_show_their_evidence_and_their_scores_recompute(tmp_path: Path) -> None:
    answer = cgm_json("alerts", str(DEXCOM), "--plots", str(tmp_path / "plots"))
    assert answer["alerts"] and answer["episodes"]
    for alert in answer["alerts"]:
        assert {"id", "time", "rule", "inputs", "segment", "plot"} <= set(alert)
        assert alert["rule"] == "trend" and alert["inputs"]["projected_mgdl"] < 70 <= alert["inputs"]["glucose_mgdl"]
        assert alert["segment"][-1] == {"time": alert["time"], "glucose_mgdl": alert["inputs"]["glucose_mgdl"]}
        assert len(alert["segment"]) == alert["inputs"]["readings"]
        svg = ET.parse(alert["plot"]).getroot()  # noqa: S314 - our own output, parsed to prove it is XML
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list((tmp_path / "plots").glob("*.svg"))) == len(answer["alerts"])
    assert_scores(answer["scores"], recompute(answer))
    assert_scores(answer["by_level"]["2"], recompute(answer, level=2))
    assert answer["scores"]["sensitivity"] > 0 and answer["scores"]["median_lead_time_min"] > 0


def test_the_episode_definition_as_a_rule_scores_nothing_on_the_export() -> None:
    answer = cgm_json("alerts", str(DEXCOM), "--rule", "consensus")
    assert answer["alerts"]
    for scores in (answer["scores"], *answer["by_level"].values()):
        assert scores["sensitivity"] == 0 and scores["ppv"] == 0 and scores["median_lead_time_min"] is None


@pytest.mark.parametrize("rule", ["trend", "level", "consensus"])
def test_scores_on_the_hall_data_recompute_by_an_independent_scorer(rule: str) -> None:
    answer = cgm_json("alerts", str(CGM_DATA / "example_data_hall.csv"), "--rule", rule)
    assert_scores(answer["scores"], recompute(answer))
    assert set(answer["by_subgroup"]) == {"diabetic", "pre-diabetic"}
    assert sum(g["episodes"] for g in answer["by_subgroup"].values()) == answer["scores"]["episodes"]
    if rule == "consensus":
        assert answer["scores"]["sensitivity"] == 0 and answer["scores"]["ppv"] == 0


def test_the_tails_of_the_hall_data_are_flagged() -> None:
    answer = cgm_json("alerts", str(CGM_DATA / "example_data_hall.csv"))
    flags = {s["id"]: {f["flag"] for f in s["flags"]} for s in answer["subjects"]}
    assert all("insufficient" in f for f in flags.values())  # none meets 14 days at 70 %
    for sparse in ("1636-69-001", "1636-70-1010"):  # 1.5 % and 7 % active
        assert "atypical" in flags[sparse]
    assert sum("atypical" in f for f in flags.values()) < len(flags) / 2


# ---- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content,expected", [
    ("id,time,gl\na,2024-01-01 00:00:00,12x\n", "bad.csv line 2, field glucose: not a number"),
    ("id,time,gl\na,2024-01-01 00:00:00,100\na,01/02/2024 10:00,100\n", "bad.csv line 3, field time: not an ISO 8601"),
    ("id,time,gl\na,2024-01-01 00:00:00,-5\n", "bad.csv line 2, field glucose: must be a positive number"),
    ("id,time,gl\n,2024-01-01 00:00:00,100\n", "bad.csv line 2, field id: empty subject id"),
    ('"";"id";"meal";"mealtime"\n"1";"2133-004";"CF 1";2016-09-23 10:10:00\n', "bad.csv line 1: no time and no glucose column"),
    ("id,time,gl\na,2024-01-01 00:00:00,NA\n", "bad.csv: no glucose reading found"),
    ("", "bad.csv: empty file"),
    ("id,time,gl\na,2024-01-01 00:00:00,1500\n", "above 1000 mg/dL read as mg/dL: is the unit right?"),
])
def test_bad_input_is_one_line_naming_file_line_and_field(tmp_path: Path, content: str, expected: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    for command in ("metrics", "alerts"):
        result = run_cli(["cgm", command, str(f), "--json"])
        assert result.code == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_bad_options_and_paths(tmp_path: Path) -> None:
    for args, expected in ((["alerts", str(DEXCOM), "--horizon", "0"], "--horizon"),
                           (["alerts", str(DEXCOM), "--group-by", "ward"], "no column named 'ward'"),
                           (["metrics", str(tmp_path / "none.csv")], "no such file"),
                           (["metrics", str(tmp_path)], "is a folder")):
        result = run_cli(["cgm", *args])
        assert result.code == 2 and expected in result.stderr and "Traceback" not in result.stderr, args
    (tmp_path / "latin1.csv").write_bytes("id,time,gl\nJérôme,2024-01-01 00:00:00,100\n".encode("latin-1"))
    result = run_cli(["cgm", "metrics", str(tmp_path / "latin1.csv")])
    assert result.code == 2 and "not UTF-8 text" in result.stderr


def test_the_command_runs_as_a_process_without_a_hub(tmp_path: Path) -> None:
    result = run_cli_process(["cgm", "alerts", str(DEXCOM), "--rule", "level"], cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "sensitivity" in result.stdout and "Flags:" in result.stdout
    assert not list(tmp_path.iterdir())  # nothing written without --plots


# ---- the example ----------------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cgm_pilot.py"


def _run_example(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "GUICHET_SHARED"} | env
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, env=full,
                          timeout=300)


def test_the_pilot_example_reads_the_cgm_files_at_run_time(tmp_path: Path) -> None:
    proc = _run_example({"GUICHET_SHARED": str(CGM_DATA.parents[1])}, "--plots", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"example_data_5_subject", "example_data_hall", "dexcom_clarity_export_sample"}
    for name in ("example_data_5_subject", "example_data_hall"):
        agreement = out[name]["reference_agreement"]
        assert agreement["counts_and_sufficiency_identical"]
        assert all(agreement["max_abs_difference"][k] <= t for k, t in TOLERANCE.items())
    for entry in out.values():
        assert entry["rules"]["consensus"]["scores"]["sensitivity"] == 0
    assert set(out["example_data_hall"]["rules"]["trend"]["by_subgroup"]) == {"diabetic", "pre-diabetic"}
    assert len(list((tmp_path / "example_data_hall").glob("*.svg"))) == \
        out["example_data_hall"]["rules"]["trend"]["scores"]["alerts"]


def test_the_pilot_example_says_where_the_data_should_be(tmp_path: Path) -> None:
    proc = _run_example({"GUICHET_SHARED": str(tmp_path / "nowhere")})
    assert proc.returncode == 2 and "shared CGM data are not at" in proc.stderr and proc.stdout == ""
