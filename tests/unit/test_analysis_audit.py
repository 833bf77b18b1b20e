"""The model audit: group effects find a planted recall gap (and none when there is none), a group at
100 % still has an interval, MetricFrame intervals by group, the counterfactual probe sees a model that uses
the sensitive attribute, the tails flag a far point, the model card says what it filled."""

import numpy as np
import pytest

from guichet.analysis.audit import auc, group_effects, strongest

pytest.importorskip("sklearn", reason="scikit-learn is the analysis extra")
pytest.importorskip("fairlearn", reason="fairlearn is the analysis extra")


def finder_data(gap: float, n: int = 3000, seed: int = 1):
    rng = np.random.default_rng(seed)
    region = rng.choice(["11", "44", "84"], n)
    y = (rng.random(n) < 0.3).astype(int)
    found = np.where(region == "84", rng.random(n) < 0.8 - gap, rng.random(n) < 0.8)
    return y, (found & (y == 1)).astype(int), region


def test_group_effects_find_a_planted_gap_and_no_other():
    y, p, g = finder_data(0.4)
    eff = strongest(group_effects(y, p, g, metric="recall", n_boot=200))
    assert eff["group"] == "84" and eff["ci_high"] < 0 and eff["detected"]
    assert -0.5 < eff["effect"] < -0.3
    y, p, g = finder_data(0.0)
    assert not strongest(group_effects(y, p, g, metric="recall", n_boot=200))["detected"]


def test_a_perfect_small_group_still_has_an_interval():
    y = np.array([1] * 30 + [1] * 300)
    p = np.array([1] * 30 + [1] * 240 + [0] * 60)
    g = np.array(["a"] * 30 + ["b"] * 300)
    a = next(e for e in group_effects(y, p, g, metric="recall", n_boot=100) if e["group"] == "a")
    assert a["value"] == 1.0 and a["ci_low"] < a["effect"] < a["ci_high"] and a["se"] > 0.03


def test_small_groups_are_not_compared():
    y, p, g = finder_data(0.0, n=200)
    assert all(e["effect"] is None for e in group_effects(y, p, g, metric="recall", min_group=500))


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500) + y * 0.3, 1)  # ties
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_audit_of_a_model_that_uses_sex():
    from sklearn.linear_model import LogisticRegression

    from guichet.analysis.audit import Tails, audit, datasheet, model_card

    rng = np.random.default_rng(2)
    n = 2000
    sex = rng.integers(1, 3, n).astype(float)
    age = rng.normal(60, 10, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-3 + 0.04 * (age - 60) + 1.5 * (sex == 2))))).astype(int)
    X = np.column_stack([age, sex])
    model = LogisticRegression().fit(X[:1200], y[:1200])
    rep = audit(model, X[:1200], X[1200:], y[1200:], {"sex": sex[1200:]}, features=["age", "sex"], n_boot=20,
                counterfactuals={"sex": [1, 2]})
    groups = rep["by_group"]["sex"]["selection_rate"]["groups"]
    assert set(groups) == {"1.0", "2.0"} and all(v["ci_low"] <= v["value"] <= v["ci_high"] for v in groups.values())
    assert rep["counterfactual"]["sex"]["2"]["mean_change"] > 0.05  # women's risk is higher in the model
    assert rep["counterfactual"]["sex"]["1"]["mean_change"] < -0.05
    assert {r["feature"] for r in rep["importance"]} == {"age", "sex"} and len(rep["partial_dependence"]) == 2
    assert set(rep["calibration"]["sex"]) == {"1.0", "2.0"}
    tails = Tails(X[:1200])
    assert tails.flag(np.array([[60.0, 1.0], [140.0, 2.0]])).tolist() == [False, True]
    card = model_card(model, rep, title="t", outcome="o", features=["age", "sex"], data={"source": "s"}, n_train=1200)
    status = {i["name"]: i["status"] for i in card["items"]}
    assert status["fairness"] == "filled" and status["intended_use"] == "to_fill" and status["dates"] == "to_fill"
    import pyarrow as pa

    sheet = datasheet({"ER_PRS_F": pa.table({"PERSON_ID": ["a", "a", "b"], "EXE_SOI_DTD": ["2023-01", "2023-03", "2023-02"]})})
    assert sheet["tables"]["ER_PRS_F"] == {"rows": 3, "columns": ["PERSON_ID", "EXE_SOI_DTD"], "persons": 2,
                                           "dates": {"EXE_SOI_DTD": ["2023-01", "2023-03"]}}


def test_audit_of_a_pipeline_on_a_dataframe():
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from guichet.analysis.audit import audit

    rng = np.random.default_rng(3)
    n = 1200
    df = pd.DataFrame({"age": rng.normal(60, 10, n), "region": rng.choice(["11", "84", "93"], n)})
    y = (rng.random(n) < np.where(df["region"] == "84", 0.5, 0.2)).astype(int)
    pre = ColumnTransformer([("cat", OneHotEncoder(), ["region"])], remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression()).fit(df[:800], y[:800])
    rep = audit(model, df[:800], df[800:], y[800:], {"region": df["region"][800:]}, n_boot=10,
                counterfactuals={"region": ["84", "11"]})
    assert rep["counterfactual"]["region"]["84"]["mean_change"] > 0.1
    assert rep["counterfactual"]["region"]["11"]["mean_change"] < 0
    assert "share_flagged" in rep["tails"] and {r["feature"] for r in rep["importance"]} == {"age", "region"}
    assert set(rep["by_group"]["region"]["auc"]["groups"]) == {"11", "84", "93"}
