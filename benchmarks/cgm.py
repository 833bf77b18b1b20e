"""CGM metrics and alerts at several times the fixtures' size, checked by methods independent of the code.

A synthetic long file (default 200 subjects x 14 days at 5 minutes with jitter, sensor gaps, missing values,
meals and night-time lows; about 800,000 rows, 23 times the Hall data) is read, measured and scored with
each rule. Three checks do not share the code they check:

- metrics: recomputed for every subject with Python's ``statistics`` module from the file's rows;
- episodes: compared with iglu's own method (interpolation on a grid from midnight, gaps over 45 minutes
  left empty, iglu's event_class run logic), re-implemented here; agreement = episode starts within one
  grid step, both ways;
- scores: recomputed from the JSON answer alone (alerts, episodes, horizon) with datetimes.

    .venv/bin/python benchmarks/cgm.py
    .venv/bin/python benchmarks/cgm.py --subjects 20 --days 7   # quick
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from guichet.cgm.episodes import episodes
from guichet.cgm.metrics import recording_metrics
from guichet.cgm.read import read_recording
from guichet.cgm.report import analyse
from guichet.cgm.rules import RULES

T0 = datetime(2024, 3, 4, 7, 0, 0)


def synth_subject(rng: np.random.Generator, days: int) -> tuple[list[float], list[float | None]]:
    """Minutes and glucose (None for a missing value) of one synthetic subject."""
    n = days * 288
    minutes = np.arange(n) * 5.0 + rng.uniform(-0.05, 0.05, n)
    base = rng.uniform(95, 150)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.93 * noise[i - 1] + rng.normal(0, 3.0)
    g = base + noise
    for day in range(days):
        for meal_hour in (8, 12.5, 19.5):
            start = int((day * 24 + meal_hour - 7) * 12 + rng.integers(-6, 6))
            k = np.arange(0, 48)
            bump = rng.uniform(30, 90) * (k / 12) * np.exp(1 - k / 12)
            end = min(start + 48, n)
            if 0 <= start < n:
                g[start:end] += bump[:end - start]
        if rng.random() < 0.35:  # a night-time low
            start = int((day * 24 + rng.uniform(17, 22)) * 12)
            k = np.arange(0, 36)
            dip = rng.uniform(35, 80) * np.sin(np.pi * k / 36)
            end = min(start + 36, n)
            if 0 <= start < n:
                g[start:end] -= dip[:end - start]
    g = np.clip(np.round(g), 40, 400)
    keep = np.ones(n, dtype=bool)
    for _ in range(rng.integers(0, 4)):  # sensor gaps of 20 minutes to 4 hours
        start = int(rng.integers(0, n))
        keep[start:start + int(rng.integers(4, 48))] = False
    values: list[float | None] = [None if rng.random() < 0.003 else float(v) for v in g[keep]]
    return minutes[keep].tolist(), values


def write_file(path: Path, subjects: int, days: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "id", "time", "gl", "diagnosis"])
        for s in range(subjects):
            group = "type 2" if s % 3 else "type 1"
            for minute, value in zip(*synth_subject(rng, days), strict=True):
                rows += 1
                stamp = (T0 + timedelta(days=s % 30, minutes=minute)).isoformat(sep=" ", timespec="seconds")
                w.writerow([rows, f"S{s:04d}", stamp, "NA" if value is None else int(value), group])
    return rows


# ---- independent checks -----------------------------------------------------------------------------------


def python_metrics(path: Path) -> dict[str, dict[str, float]]:
    """Mean, SD, and range percentages per subject with the statistics module, from the rows."""
    values: dict[str, list[float]] = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["gl"] != "NA":
                values.setdefault(row["id"], []).append(float(row["gl"]))
    out = {}
    for sid, g in values.items():
        n = len(g)
        out[sid] = {"mean_mgdl": statistics.fmean(g), "sd_mgdl": statistics.stdev(g),
                    "tbr_lt54": 100 * sum(v < 54 for v in g) / n, "tbr_lt70": 100 * sum(v < 70 for v in g) / n,
                    "tir_70_180": 100 * sum(70 <= v <= 180 for v in g) / n,
                    "tar_gt180": 100 * sum(v > 180 for v in g) / n, "tar_gt250": 100 * sum(v > 250 for v in g) / n}
    return out


def iglu_grid_starts(seconds: np.ndarray, glucose: np.ndarray, threshold: float, step: float = 5.0) -> list[float]:
    """Episode starts by iglu's method: CGMS2DayByDay's grid, then event_class on each gap-free segment."""
    day0 = math.floor(seconds[0] / 86400) * 86400
    ndays = math.ceil((seconds[-1] - seconds[0]) / 86400 + 1)
    grid = day0 + np.arange(1, int(ndays * 1440 / step) + 1) * step * 60
    y = np.interp(grid, seconds, glucose, left=np.nan, right=np.nan)
    for k in np.flatnonzero(np.diff(seconds) > 45 * 60):
        y[(grid > seconds[k]) & (grid < seconds[k + 1])] = np.nan
    need = math.ceil(15 / step)
    starts: list[float] = []
    present = np.flatnonzero(~np.isnan(y))
    for segment in np.split(present, np.flatnonzero(np.diff(present) > 1) + 1):
        if not len(segment):
            continue
        low = y[segment] < threshold
        change = np.flatnonzero(low[1:] != low[:-1]) + 1
        bounds = list(zip(np.r_[0, change], np.r_[change, len(low)], strict=True))
        opens = [a for a, b in bounds if low[a] and b - a >= need]
        closes = [a for a, b in bounds if not low[a] and b - a >= need]
        taken: set[int] = set()
        for a in opens:
            close = min([c for c in closes if c > a], default=len(low))
            if close not in taken:
                taken.add(close)
                starts.append(float(grid[segment[a]]))
    return starts


def episode_agreement(path: Path) -> dict[str, Any]:
    recording = read_recording(path)
    mine_total = iglu_total = mine_matched = iglu_matched = 0
    for s in recording.subjects:
        for level, threshold in ((1, 70.0), (2, 54.0)):
            mine = [float(s.seconds[e.start]) for e in episodes(s, (level,))]
            theirs = iglu_grid_starts(s.seconds, s.glucose, threshold)
            mine_total += len(mine)
            iglu_total += len(theirs)
            mine_matched += sum(any(abs(a - b) <= 300 for b in theirs) for a in mine)
            iglu_matched += sum(any(abs(a - b) <= 300 for a in mine) for b in theirs)
    return {"episodes": mine_total, "iglu_method_episodes": iglu_total,
            "ours_found_by_iglu_method": mine_matched, "iglu_method_found_by_ours": iglu_matched}


def recompute_scores(answer: dict[str, Any]) -> dict[str, float | None]:
    horizon = timedelta(minutes=answer["scoring"]["horizon_min"])
    level1 = [e for e in answer["episodes"] if e["level"] == 1]
    by_id: dict[str, list[tuple[datetime, datetime]]] = {}
    for e in level1:
        by_id.setdefault(e["id"], []).append((datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"])))
    earliest: dict[tuple[str, int], datetime] = {}  # (subject, episode number) -> earliest predicting alert
    true_alerts = 0
    for alert in answer["alerts"]:
        t = datetime.fromisoformat(alert["time"])
        spans = by_id.get(alert["id"], [])
        if any(a <= t <= b for a, b in spans):
            continue  # raised while already hypoglycaemic
        hit = False
        for k, (start, _end) in enumerate(spans):
            if start - horizon <= t < start:
                hit = True
                key = (alert["id"], k)
                earliest[key] = min(earliest.get(key, t), t)
        true_alerts += hit
    leads = [(by_id[sid][k][0] - t).total_seconds() / 60 for (sid, k), t in earliest.items()]
    days = sum(s["days_of_data"] for s in answer["subjects"])
    return {"sensitivity": len(leads) / len(level1) if level1 else None,
            "ppv": true_alerts / len(answer["alerts"]) if answer["alerts"] else None,
            "false_alerts_per_day": (len(answer["alerts"]) - true_alerts) / days,
            "median_lead_time_min": statistics.median(leads) if leads else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=200)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_cgm.csv"
        rows = write_file(path, args.subjects, args.days, args.seed)
        t = time.perf_counter()
        recording = read_recording(path)
        timings = {"read_s": time.perf_counter() - t}
        t = time.perf_counter()
        metrics = recording_metrics(recording)
        timings["metrics_s"] = time.perf_counter() - t
        expected = python_metrics(path)
        worst = max(abs(getattr(m, k) - expected[m.id][k]) for m in metrics for k in expected[m.id])
        result: dict[str, Any] = {"rows": rows, "subjects": len(recording.subjects), "timings": timings,
                                  "metrics_max_abs_difference_vs_statistics_module": worst,
                                  "episodes_vs_iglu_method": episode_agreement(path), "rules": {}}
        for name, rule in RULES.items():
            t = time.perf_counter()
            answer = json.loads(json.dumps(analyse(recording, rule).to_dict()))
            elapsed = time.perf_counter() - t
            again = recompute_scores(answer)
            agree = all((again[k] is None and answer["scores"][k] is None)
                        or (again[k] is not None and answer["scores"][k] is not None
                            and math.isclose(again[k], answer["scores"][k], rel_tol=1e-9, abs_tol=1e-9))
                        for k in again)
            result["rules"][name] = {"seconds": elapsed, "scores": {k: answer["scores"][k] for k in again},
                                     "alerts": len(answer["alerts"]), "recomputed_scores_agree": agree}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
