"""Attack reports: an overfitted tree (leaves of one record) fails on its structure and its attacks; a
regularised logistic regression passes; a regressor is attacked too; the airlock fails a model without its
report or with another file's (and a raw pickle: tests/unit/test_analysis_model_files.py), and reads the
thresholds the permit's output conditions gave."""

import pickle

import numpy as np
import pytest

from guichet.airlock.check import check_file
from guichet.analysis.attacks import attack_report, thresholds
from guichet.analysis.model_files import save_card, save_model

pytest.importorskip("sklearn", reason="scikit-learn is the analysis extra")


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(scale=1.5, size=n) > 0).astype(int)
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def save(model, path):
    path.write_bytes(pickle.dumps(model))
    return path


def test_an_overfitted_tree_fails_and_a_logistic_regression_passes(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    Xtr, ytr, Xte, yte = data()
    tree = DecisionTreeClassifier(random_state=0).fit(Xtr, ytr)
    f = save(tree, tmp_path / "tree.pkl")
    report = attack_report(tree, f, Xtr, ytr, Xte, yte, conditions={"min_cell": 10}, shadows=4)
    r = __import__("json").loads(report.read_text())
    assert r["structural"]["min_leaf_records"] == 1 and r["status"] == "fail"
    assert any(x.startswith("model-leaf-too-small") for x in r["reasons"])
    assert r["attacks"]["worst_case"]["auc"] > 0.6  # an unpruned tree gives its training records away
    assert check_file(f).status == "fail"

    lr = LogisticRegression().fit(Xtr, ytr)
    g = save_model(lr, tmp_path / "lr.model.json")
    attack_report(lr, g, Xtr, ytr, Xte, yte, conditions={"min_cell": 10}, shadows=4)
    save_card({"sample_size": {"train": len(Xtr)}}, g)
    res = check_file(g)
    assert res.status == "pass" and res.kind == "model", res.reasons
    assert "worst-case AUC" in res.notes[0]


def test_regressors_and_the_airlock_refusals(tmp_path):
    from sklearn.linear_model import Ridge

    Xtr, ytr, Xte, yte = data(seed=1)
    m = Ridge().fit(Xtr, ytr.astype(float))
    f = save(m, tmp_path / "ridge.joblib")
    rep = attack_report(m, f, Xtr, ytr.astype(float), Xte, yte.astype(float), shadows=4,
                        quasi_identifiers=np.repeat(["a", "b"], len(Xtr) // 2))
    r = __import__("json").loads(rep.read_text())
    assert r["kind"] == "regressor" and r["structural"]["residual_dof"] == len(Xtr) - 5
    assert r["structural"]["k_anonymity"] == len(Xtr) // 2 and r["status"] == "pass"
    f.write_bytes(f.read_bytes() + b"x")  # another file than the one attacked
    assert check_file(f).reasons == ["model-raw-pickle", "model-without-card", "model-attack-report-of-another-file"]
    bare = save_model(m, tmp_path / "bare.model.json")
    save_card({"sample_size": {"train": len(Xtr)}}, bare)
    assert check_file(bare).status == "fail" and check_file(bare).reasons == ["model-without-attack-report"]


def test_thresholds_from_the_output_conditions():
    t = thresholds({"min_cell": 15, "model_max_attack_auc": 0.55})
    assert t["min_leaf"] == 15 and t["k"] == 15 and t["max_attack_auc"] == 0.55 and t["min_dof"] == 10
