"""Model files through the airlock: a fitted model written as guichet.model/1 JSON (numbers only) predicts
as the model did; the airlock passes it with its attack report and its card, and fails a model without a
card, with another file's card, trained on fewer persons than the threshold, or saved as a raw pickle."""

import json
import pickle

import numpy as np
import pytest

from guichet.airlock.check import check_file
from guichet.analysis.attacks import attack_report
from guichet.analysis.model_files import model_type, predict, save_card, save_model, training_population
from guichet.errors import BadInput

pytest.importorskip("sklearn", reason="scikit-learn is the analysis extra")


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(scale=1.5, size=n) > 0).astype(int)
    return X[: n // 2], y[: n // 2], X[n // 2:], y[n // 2:]


def test_json_models_predict_as_the_fitted_model(tmp_path):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    Xtr, ytr, Xte, _ = data()
    for i, m in enumerate([LogisticRegression().fit(Xtr, ytr), Ridge().fit(Xtr, ytr.astype(float)),
                           DecisionTreeClassifier(max_depth=3, random_state=0).fit(Xtr, ytr),
                           DecisionTreeRegressor(max_depth=3, random_state=0).fit(Xtr, Xtr[:, 1])]):
        f = save_model(m, tmp_path / f"m{i}.model.json", features=["a", "b", "c", "d"])
        doc = json.loads(f.read_text())
        assert doc["format"] == "guichet.model/1" and doc["features"] == ["a", "b", "c", "d"]
        np.testing.assert_allclose(predict(f, Xte), m.predict(Xte))
    with pytest.raises(BadInput, match=r"\.model\.json"):
        save_model(LogisticRegression().fit(Xtr, ytr), tmp_path / "m.json")
    assert [model_type(n) for n in ("a.model.json", "a.onnx", "a.SKOPS", "a.pkl", "a.json", "model.json")] == \
        [".model.json", ".onnx", ".skops", ".pkl", None, None]


def test_the_airlock_needs_the_report_and_a_card_with_enough_training_persons(tmp_path):
    from sklearn.linear_model import LogisticRegression

    Xtr, ytr, Xte, yte = data()
    lr = LogisticRegression().fit(Xtr, ytr)
    f = save_model(lr, tmp_path / "lr.model.json")
    attack_report(lr, f, Xtr, ytr, Xte, yte, shadows=4)
    res = check_file(f)
    assert res.status == "fail" and res.reasons == ["model-without-card"] and res.kind == "model"
    save_card({"title": "test", "sample_size": {"train": len(Xtr), "test": len(Xte)}}, f)
    res = check_file(f)
    assert res.status == "pass", res.reasons
    assert json.loads(f.with_name("lr.model.json.attack.json").read_text())["training_records"] == len(Xtr)
    # the card of model_card(): its items
    save_card({"format": "guichet.modelcard/1", "items": [{"name": "sample_size", "value": {"train": 8}}]}, f)
    res = check_file(f)
    assert res.status == "fail" and res.reasons == ["model-training-population-too-small: 8 < 11"]
    assert training_population({"items": [{"name": "sample_size", "value": {"train": 8}}]}) == 8
    with pytest.raises(BadInput, match=r"sample_size\.train"):
        save_card({"title": "no size"}, f)


def test_a_model_trained_on_fewer_persons_than_the_threshold_fails(tmp_path):
    from sklearn.linear_model import LogisticRegression

    Xtr, ytr, Xte, yte = data(n=40)
    lr = LogisticRegression().fit(Xtr[:10], ytr[:10])
    f = save_model(lr, tmp_path / "small.model.json")
    attack_report(lr, f, Xtr[:10], ytr[:10], Xte, yte, shadows=2, conditions={"min_cell": 5, "model_min_dof": 1})
    save_card({"sample_size": {"train": 10}}, f)
    res = check_file(f)
    assert res.status == "fail" and "model-training-population-too-small: 10 < 11" in res.reasons
    assert sum(r.startswith("model-training-population") for r in res.reasons) == 1


def test_raw_pickles_and_other_files_cards_fail(tmp_path):
    from sklearn.linear_model import LogisticRegression

    Xtr, ytr, Xte, yte = data()
    lr = LogisticRegression().fit(Xtr, ytr)
    p = tmp_path / "lr.pkl"
    p.write_bytes(pickle.dumps(lr))
    attack_report(lr, p, Xtr, ytr, Xte, yte, shadows=4)
    save_card({"sample_size": {"train": len(Xtr)}}, p)
    assert check_file(p).reasons == ["model-raw-pickle"]
    f = save_model(lr, tmp_path / "lr.model.json")
    attack_report(lr, f, Xtr, ytr, Xte, yte, shadows=4)
    f.with_name("lr.model.json.card.json").write_text(p.with_name("lr.pkl.card.json").read_text())
    assert check_file(f).reasons == ["model-card-of-another-file"]
    other = tmp_path / "notes.json"
    other.write_text("{}")
    with pytest.raises(BadInput):
        check_file(other)  # not a model: the checkers review it
