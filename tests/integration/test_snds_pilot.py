"""examples/snds_pilot.py end to end on small synthetic deliveries (10,000 persons, one year): with
``--plant coding_gap:84`` the bias audit names région 84 with an interval below zero; without it, no
région's interval excludes zero. Also what the pilot writes: the attrition table, the pathway's tables and
figures with their sidecars, the model card."""

import dataclasses
import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest

from guichet.analysis.events import from_delivery
from guichet.synth.params import PROFILES, Plant, SynthRequest
from guichet.synth.writer import write_delivery

pytest.importorskip("sklearn", reason="scikit-learn is the analysis extra")
pytest.importorskip("fairlearn", reason="fairlearn is the analysis extra")

PILOT = Path(__file__).resolve().parents[2] / "examples" / "snds_pilot.py"


def pilot():
    spec = importlib.util.spec_from_file_location("snds_pilot", PILOT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(tmp_path: Path, plants: tuple[Plant, ...]) -> dict:
    req = SynthRequest(persons=10_000, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31), seed=3,
                       profile=dataclasses.replace(PROFILES["standard"], defect_rate=0.0), plants=plants)
    write_delivery(req, tmp_path / "delivery")
    result = pilot().run(from_delivery(str(tmp_path / "delivery")), tmp_path / "out")
    return json.loads(json.dumps(pilot().plain(result), allow_nan=False))


def test_the_planted_coding_gap_is_found(tmp_path):
    r = run(tmp_path, (Plant("coding_gap", "84"),))
    a = r["audit"]
    assert a["group"] == "84" and a["ci_high"] < 0 and a["detected"] and a["metric"] == "recall"
    assert {"attrition.csv", "attrition.csv.meta.json", "attrition.svg", "attrition.svg.meta.json",
            "transitions.csv", "transitions.svg.meta.json", "time_to_stay.csv", "time_to_stay.svg.meta.json",
            "risk_model_card.json"} <= set(r["files"])
    counts = [s["persons"] for s in r["cohort"]["attrition"]]
    assert counts[0] > 300 and counts == sorted(counts, reverse=True)
    assert 0.6 < r["model"]["auc"] < 0.95


def test_no_plant_no_effect(tmp_path):
    r = run(tmp_path, ())
    assert not r["audit"]["detected"]
    assert all(e["effect"] is None or e["ci_low"] <= 0 <= e["ci_high"] for e in r["audit_by_region"])
