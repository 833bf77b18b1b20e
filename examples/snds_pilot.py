"""SNDS pilot: a diabetes care pathway, a hospitalisation-risk model and the bias audit of a diabetes
case-finding model based on hospital diagnoses.

    python examples/snds_pilot.py --delivery DIR [--out OUT] [--seed S]
    guichet workspace python PERMIT examples/snds_pilot.py --as USER     (in a workspace session)

``DIR`` is a delivery written by ``guichet synth`` (read through ``analysis.events.from_delivery``, which
gives views shaped like an extract's tables); without ``--delivery`` the script takes the workspace
session's DuckDB connection (``workspace.sandbox_api.connect()``: the extract's tables as views) and writes
to the session's ``outputs/snds-pilot/``. Prints one JSON object:

    {"audit": {"group", "effect", "ci_low", "ci_high", "metric", "n", "detected"},
     "audit_by_region": [...], "cohort": {...}, "model": {...}, "files": [...]}

``audit`` is the région where the case-finding model's recall (treated diabetics — an A10 dispensing — that
it finds from their hospital diagnoses, among those with a stay) differs most from the other régions', with a
bootstrap interval Bonferroni-adjusted over the régions compared. A delivery made with
``guichet synth --plant coding_gap:REGION`` leaves associated diagnoses uncoded in that région: the audit
finds it (the interval excludes zero); without the plant it reports no effect.

Needs the ``analysis`` extra (scikit-learn, fairlearn).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from guichet.access.criteria import departement_regions, drug_referential
from guichet.analysis.audit import audit, group_effects, model_card, strongest
from guichet.analysis.cohorts import attrition
from guichet.analysis.events import events, from_delivery
from guichet.analysis.pathways import time_to_event, transitions

DIABETES_INDEX = {"codes": ["A10"], "system": "ATC"}
STEPS = [
    ("adults at the index", {"age": {"min": 18}, "at": "index"}),
    ("two dispensings within a year", {"codes": ["A10"], "system": "ATC", "window": {"from": 0, "to": 365},
                                       "min_count": 2}),
]
SPLIT = "2023-07-01"  # predictors before, outcome (a hospital stay) from this date on


def persons(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """One row per person of the referential: predictors, outcomes, région."""
    regions = departement_regions()
    con.register("_regions", pa.table({"dpt": list(regions), "region": list(regions.values())}))
    sql = f"""
    WITH b AS (SELECT CAST(PERSON_ID AS VARCHAR) AS person, any_value(BEN_SEX_COD) AS sex,
                      any_value(TRY_CAST(BEN_NAI_ANN AS INTEGER)) AS born,
                      any_value(lpad(CAST(BEN_RES_DPT AS VARCHAR), 3, '0')) AS dpt FROM IR_BEN_R GROUP BY 1),
    e AS (SELECT person,
        max((category = 'dispensing' AND starts_with("group", 'A10'))::INT) AS diabetes_treated,
        max((category = 'diagnosis' AND "group" = 'principal' AND regexp_matches(value, '^E1[0-4]'))::INT) AS dm_principal,
        max((category = 'diagnosis' AND "group" <> 'principal' AND regexp_matches(value, '^E1[0-4]'))::INT) AS dm_associated,
        sum((category = 'stay')::INT) AS stays,
        sum((category = 'stay' AND start < DATE '{SPLIT}')::INT) AS stays_before,
        max((category = 'stay' AND start >= DATE '{SPLIT}')::INT) AS stay_after,
        sum((category = 'visit' AND start < DATE '{SPLIT}')::INT) AS visits_before,
        count(DISTINCT CASE WHEN category = 'dispensing' AND start < DATE '{SPLIT}' THEN left("group", 3) END) AS atc_before,
        max((category = 'long_term_illness')::INT) AS ald
      FROM events GROUP BY person)
    SELECT b.person, CAST(b.sex AS INTEGER) AS sex, 2023 - b.born AS age, coalesce(r.region, 'NA') AS region,
           coalesce(e.diabetes_treated, 0) AS diabetes_treated, coalesce(e.dm_principal, 0) AS dm_principal,
           coalesce(e.dm_associated, 0) AS dm_associated, coalesce(e.stays, 0) AS stays,
           coalesce(e.stays_before, 0) AS stays_before, coalesce(e.stay_after, 0) AS stay_after,
           coalesce(e.visits_before, 0) AS visits_before, coalesce(e.atc_before, 0) AS atc_before,
           coalesce(e.ald, 0) AS ald
    FROM b LEFT JOIN e ON e.person = b.person LEFT JOIN _regions r ON r.dpt = b.dpt
    WHERE b.born IS NOT NULL AND b.sex IN ('1', '2') ORDER BY b.person"""
    t = con.sql(sql).to_arrow_table()
    return {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}


def age_band(age: np.ndarray) -> np.ndarray:
    return np.where(age < 40, "<40", np.where(age < 65, "40-64", np.where(age < 80, "65-79", "80+")))


def run(con: duckdb.DuckDBPyConnection, out: Path, seed: int = 0, min_group: int = 20) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    out.mkdir(parents=True, exist_ok=True)
    events(con=con, drugs=dict(drug_referential()))
    # 1. the diabetes cohort, its attrition and its care pathway
    table, cohort = attrition(con, STEPS, index=DIABETES_INDEX, out=out / "attrition.csv")
    trans = transitions(con, cohort, out=out / "transitions.csv")
    km = time_to_event(con, cohort, {"event": "stay"}, out=out / "time_to_stay.csv", interval=60)
    steps = [line.split(",") for line in table.read_text(encoding="utf-8").splitlines()[1:]]
    p = persons(con)
    # 2. a hospitalisation-risk model (predictors before July, a stay from July on), audited by group
    features = ["age", "sex", "diabetes_treated", "ald", "stays_before", "visits_before", "atc_before"]
    X = np.column_stack([p[f].astype(float) for f in features])
    y = p["stay_after"].astype(int)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.4, random_state=seed, stratify=y)
    risk = LogisticRegression(max_iter=500).fit(X[tr], y[tr])
    sensitive = {"sex": p["sex"][te], "age_band": age_band(p["age"][te]), "region": p["region"][te]}
    risk_report = audit(risk, X[tr], X[te], y[te], {"sex": sensitive["sex"], "age_band": sensitive["age_band"]},
                        features=features, n_boot=30, seed=seed, counterfactuals={"sex": [1, 2]},
                        metrics=["auc", "recall", "brier", "mean_error"])
    card = model_card(risk, risk_report, title="Risk of a hospital stay in the second half of 2023",
                      outcome="any acute stay (T_MCOaaC) entered from 2023-07-01", features=features,
                      data={"source": "SNDS extract: IR_BEN_R, ER_PRS_F, ER_PHA_F, T_MCOaaB/C/D, IR_IMB_R",
                            "period": "2023"},
                      cohort={"population": "every person of the referential with a birth year and a sex"},
                      n_train=len(tr), missing="persons without a birth year or a sex are left out")
    (out / "risk_model_card.json").write_text(json.dumps(card, indent=1, default=str) + "\n", encoding="utf-8")
    # 3. the bias audit: a diabetes case-finding model from hospital diagnoses, among persons with a stay
    hosp = p["stays"] > 0
    Xd = np.column_stack([p["dm_principal"], p["dm_associated"], p["age"], p["sex"], p["stays"]]).astype(float)[hosp]
    yd = p["diabetes_treated"][hosp].astype(int)
    finder = LogisticRegression(max_iter=500).fit(Xd, yd)
    found = finder.predict(Xd)
    effects = group_effects(yd, found, p["region"][hosp], metric="recall", n_boot=300, seed=seed,
                           min_group=min_group)
    headline = strongest(effects)
    return {
        "audit": headline,
        "audit_by_region": [{k: e[k] for k in ("group", "n", "denominator", "value", "rest", "effect", "ci_low",
                                               "ci_high")} for e in effects],
        "cohort": {"attrition": [{"step": s, "persons": int(float(n))} for s, n in steps],
                   "files": [table.name, trans.name, km.name]},
        "model": {"outcome": "hospital stay from " + SPLIT, "n_train": len(tr), "n_test": len(te),
                  "auc": risk_report["by_group"]["sex"]["auc"]["overall"],
                  "auc_by_sex": {g: v["value"] for g, v in risk_report["by_group"]["sex"]["auc"]["groups"].items()},
                  "tails_share": risk_report["tails"]["share_flagged"],
                  "importance": [r["feature"] for r in risk_report["importance"][:3]]},
        "files": sorted(x.name for x in out.iterdir()),
    }


def plain(value: Any) -> Any:
    """Strict JSON: numpy scalars as numbers, NaN (a metric undefined in a group) as null."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delivery", help="a folder written by guichet synth (default: the workspace session's extract)")
    ap.add_argument("--out", help="where the tables and figures go (default: the session's outputs/ folder, "
                                  "or a temporary folder)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.delivery:
        con = from_delivery(a.delivery)
        out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="snds-pilot-"))
    else:  # in a workspace session: guichet workspace python PERMIT examples/snds_pilot.py --as USER
        from guichet.workspace.sandbox_api import OUTPUTS, connect

        con = connect()
        out = Path(a.out) if a.out else Path(OUTPUTS) / "snds-pilot"
    result = run(con, out, a.seed)
    json.dump(plain(result), sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
