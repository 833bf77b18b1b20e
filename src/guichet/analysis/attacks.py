"""Models that may leave: an attack report made inside the workspace on held-out data, in the spirit of
SACRO-ML. A trained model leaves only through the airlock with its report beside it (``MODEL.attack.json``,
naming the model file's SHA-256); ``guichet airlock check MODEL`` fails a model without one, with another
model's, or whose measures break the thresholds.

- Structural checks: the smallest number of training records in a leaf (trees and ensembles of trees), the
  residual degrees of freedom (training records minus parameters: linear models), the smallest class of the
  training records on their quasi-identifiers (k-anonymity of the training groups, when given).
- Membership inference, members the training records and non-members the held-out ones (as many of each):
  a **worst-case attack** (an attack classifier on the model's outputs — sorted probabilities and the
  true-class confidence, or the residual — trained and scored by cross-validation with the membership
  labels: the best an attacker with the labels could do) and a **likelihood-ratio attack** (LiRA: shadow
  models trained on random halves of the pooled records give, for each record, the distribution of its
  logit-scaled confidence — or negative squared error — when in and out of training; the score is the
  likelihood ratio of the target model's value). Each reports its AUC and its true-positive rate at a 1 %
  false-positive rate.

Thresholds (``thresholds(conditions)``) come from the permit's output conditions: ``min_cell`` (the minimum
leaf size and the k of the training groups; default 10), ``model_min_dof`` (default 10),
``model_max_attack_auc`` (default 0.6) and ``model_max_tpr_at_1pct_fpr`` (default 0.05). scikit-learn (the
``analysis`` extra) is imported when needed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guichet.analysis.audit import auc
from guichet.analysis.metadata import sha256
from guichet.errors import BadInput

FORMAT = "guichet.attack/1"
SUFFIX = ".attack.json"
MODEL_TYPES = (".model.json", ".onnx", ".skops", ".pkl", ".pickle", ".joblib")  # see model_files.model_type
DEFAULTS = {"min_leaf": 10, "min_dof": 10, "k": 10, "max_attack_auc": 0.6, "max_tpr_at_1pct_fpr": 0.05}


def report_path(model_file: Path) -> Path:
    return model_file.with_name(model_file.name + SUFFIX)


def thresholds(conditions: Mapping[str, Any] | None) -> dict[str, float]:
    """The report's thresholds from a permit's output conditions (see the module's text)."""
    c = dict(conditions or {})
    out = dict(DEFAULTS)
    if isinstance(c.get("min_cell"), int | float):
        out["min_leaf"] = out["k"] = max(int(c["min_cell"]), 1)
    for key, name in (("model_min_dof", "min_dof"), ("model_max_attack_auc", "max_attack_auc"),
                      ("model_max_tpr_at_1pct_fpr", "max_tpr_at_1pct_fpr")):
        if isinstance(c.get(key), int | float):
            out[name] = c[key]
    return {k: float(v) for k, v in out.items()}


def _is_classifier(model: Any) -> bool:
    return hasattr(model, "predict_proba")


def _tpr_at(y: np.ndarray, s: np.ndarray, fpr: float = 0.01) -> float:
    neg = np.sort(s[y == 0])
    if not neg.size or not np.any(y == 1):
        return math.nan
    cut = neg[min(math.ceil((1 - fpr) * neg.size), neg.size - 1)]
    return float(np.mean(s[y == 1] > cut))


def _statistic(model: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per record: the logit of the true class's probability (classifiers), minus the squared error
    (regressors) — larger when the model fits the record better."""
    if _is_classifier(model):
        proba = np.asarray(model.predict_proba(X))
        classes = list(model.classes_)
        idx = np.array([classes.index(v) if v in classes else 0 for v in y])
        p = np.clip(proba[np.arange(len(y)), idx], 1e-6, 1 - 1e-6)
        return np.asarray(np.log(p) - np.log1p(-p))
    return np.asarray(-((np.asarray(model.predict(X), dtype=float) - y) ** 2))


def _features(model: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    if _is_classifier(model):
        proba = np.sort(np.asarray(model.predict_proba(X)), axis=1)[:, ::-1]
        return np.column_stack([proba, _statistic(model, X, y)])
    pred = np.asarray(model.predict(X), dtype=float)
    return np.column_stack([pred, y, pred - y])


def _balanced(X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, y_te: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = min(len(X_tr), len(X_te))
    a = rng.choice(len(X_tr), n, replace=False)
    b = rng.choice(len(X_te), n, replace=False)
    return (np.vstack([X_tr[a], X_te[b]]), np.concatenate([y_tr[a], y_te[b]]),
            np.concatenate([np.ones(n), np.zeros(n)]))


def worst_case(model: Any, X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, y_te: np.ndarray,
               seed: int = 0) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_predict

    rng = np.random.default_rng(seed)
    X, y, member = _balanced(X_tr, y_tr, X_te, y_te, rng)
    feats = _features(model, X, y)
    attacker = RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=seed)
    score = cross_val_predict(attacker, feats, member, cv=5, method="predict_proba")[:, 1]
    return {"auc": auc(member, score), "tpr_at_1pct_fpr": _tpr_at(member, score), "records": len(member)}


def likelihood_ratio(model: Any, X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, y_te: np.ndarray,
                     shadows: int = 8, seed: int = 0) -> dict[str, float]:
    from sklearn.base import clone

    rng = np.random.default_rng(seed)
    X, y, member = _balanced(X_tr, y_tr, X_te, y_te, rng)
    n = len(y)
    ins: list[list[float]] = [[] for _ in range(n)]
    outs: list[list[float]] = [[] for _ in range(n)]
    for _ in range(shadows):
        half = rng.random(n) < 0.5
        if len(np.unique(y[half])) < 2 and _is_classifier(model):
            continue
        shadow = clone(model).fit(X[half], y[half])
        stat = _statistic(shadow, X, y)
        for i in range(n):
            (ins if half[i] else outs)[i].append(float(stat[i]))
    target = _statistic(model, X, y)
    all_in = [v for lst in ins for v in lst]
    all_out = [v for lst in outs for v in lst]
    if not all_in or not all_out:
        raise BadInput("likelihood-ratio attack: no shadow model could be trained")
    sd = max(float(np.std(all_in + all_out)), 1e-6)
    g_in, g_out = float(np.mean(all_in)), float(np.mean(all_out))
    mu_in = np.array([np.mean(v) if v else g_in for v in ins])
    mu_out = np.array([np.mean(v) if v else g_out for v in outs])
    score = ((target - mu_out) ** 2 - (target - mu_in) ** 2) / (2 * sd * sd)
    return {"auc": auc(member, score), "tpr_at_1pct_fpr": _tpr_at(member, score), "records": n,
            "shadows": shadows}


def structural(model: Any, X_tr: np.ndarray, quasi: np.ndarray | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": type(model).__name__, "train_records": len(X_tr)}
    estimators = getattr(model, "estimators_", None)
    trees: list[Any] = []
    if hasattr(model, "tree_"):
        trees = [model]
    elif estimators is not None:
        trees = [t for t in np.ravel(np.asarray(estimators, dtype=object)) if hasattr(t, "tree_")]
    if trees:
        smallest = min(int(np.bincount(t.apply(X_tr)).astype(float)[np.unique(t.apply(X_tr))].min()) for t in trees)
        out["min_leaf_records"] = smallest
    coef = getattr(model, "coef_", None)
    if coef is not None:
        params = int(np.asarray(coef).size + np.asarray(getattr(model, "intercept_", 0.0)).size)
        out["parameters"] = params
        out["residual_dof"] = len(X_tr) - params
    if quasi is not None:
        q = np.asarray(quasi).astype(str)
        rows = q if q.ndim == 1 else np.array(["|".join(r) for r in q])
        _, counts = np.unique(rows, return_counts=True)
        out["k_anonymity"] = int(counts.min()) if counts.size else 0
    return out


def evaluate(measures: Mapping[str, Any], limits: Mapping[str, float]) -> tuple[str, list[str]]:
    """``pass`` or ``fail`` and the reasons, from a report's measures and the thresholds."""
    reasons: list[str] = []
    s = measures.get("structural", {})
    if "min_leaf_records" in s and s["min_leaf_records"] < limits["min_leaf"]:
        reasons.append(f"model-leaf-too-small: {s['min_leaf_records']} < {limits['min_leaf']:g}")
    if "residual_dof" in s and s["residual_dof"] < limits["min_dof"]:
        reasons.append(f"model-dof-too-low: {s['residual_dof']} < {limits['min_dof']:g}")
    if "k_anonymity" in s and s["k_anonymity"] < limits["k"]:
        reasons.append(f"model-training-group-too-small: {s['k_anonymity']} < {limits['k']:g}")
    for name in ("worst_case", "likelihood_ratio"):
        a = measures.get("attacks", {}).get(name)
        if a is None:
            reasons.append(f"model-attack-missing: {name}")
            continue
        if not a.get("auc", 1.0) <= limits["max_attack_auc"]:
            reasons.append(f"model-attack-succeeds: {name} AUC {a.get('auc', math.nan):.3f} > {limits['max_attack_auc']:g}")
        if not a.get("tpr_at_1pct_fpr", 1.0) <= limits["max_tpr_at_1pct_fpr"]:
            reasons.append(f"model-attack-succeeds: {name} TPR at 1 % FPR {a.get('tpr_at_1pct_fpr', math.nan):.3f} "
                           f"> {limits['max_tpr_at_1pct_fpr']:g}")
    return ("fail" if reasons else "pass"), reasons


def attack_report(model: Any, model_file: str | Path, X_train: Any, y_train: Any, X_test: Any, y_test: Any, *,
                  conditions: Mapping[str, Any] | None = None, quasi_identifiers: Any = None,
                  shadows: int = 8, seed: int = 0) -> Path:
    """Run the checks and attacks on ``model`` (already saved as ``model_file``) and write the report beside
    the file; returns its path. The verdict is recorded, and recomputed by the airlock."""
    model_file = Path(model_file)
    if not model_file.is_file():
        raise BadInput(f"{model_file.name}: save the model first (its checksum goes in the report)")
    Xtr, Xte = np.asarray(X_train, dtype=float), np.asarray(X_test, dtype=float)
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    if len(Xte) < 20:
        raise BadInput("attack report: at least 20 held-out records")
    limits = thresholds(conditions)
    measures: dict[str, Any] = {
        "structural": structural(model, Xtr, None if quasi_identifiers is None else np.asarray(quasi_identifiers)),
        "attacks": {"worst_case": worst_case(model, Xtr, ytr, Xte, yte, seed),
                    "likelihood_ratio": likelihood_ratio(model, Xtr, ytr, Xte, yte, shadows, seed)},
    }
    status, reasons = evaluate(measures, limits)
    report = {"format": FORMAT, "model_file": model_file.name, "sha256": sha256(model_file),
              "kind": "classifier" if _is_classifier(model) else "regressor", "held_out_records": len(Xte),
              "training_records": len(Xtr),
              "thresholds": limits, "conditions": dict(conditions or {}), **measures, "status": status,
              "reasons": reasons}
    path = report_path(model_file)
    path.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    return path


def check_model(model_file: Path, conditions: Mapping[str, Any] | None = None,
                min_cell: int | None = None) -> tuple[str, list[str], list[str]]:
    """What the airlock says of a model file: (status, reasons, notes). No report, a report of another
    file, or measures beyond the thresholds (the permit's ``conditions``, the rule set's ``min_cell``
    when stricter) → ``fail``."""
    path = report_path(model_file)
    if not path.is_file():
        return "fail", ["model-without-attack-report"], []
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return "fail", ["model-attack-report-unreadable"], []
    if report.get("format") != FORMAT or report.get("sha256") != sha256(model_file):
        return "fail", ["model-attack-report-of-another-file"], []
    limits = thresholds(conditions if conditions is not None else report.get("conditions"))
    if min_cell is not None:
        limits["min_leaf"] = max(limits["min_leaf"], float(min_cell))
        limits["k"] = max(limits["k"], float(min_cell))
    status, reasons = evaluate(report, limits)
    trained = report.get("training_records")
    if min_cell is not None and isinstance(trained, int) and trained < min_cell:
        status, reasons = "fail", [*reasons, f"model-training-population-too-small: {trained} < {min_cell:g}"]
    notes = [f"attack report {path.name}: worst-case AUC {report['attacks']['worst_case']['auc']:.3f}, "
             f"likelihood-ratio AUC {report['attacks']['likelihood_ratio']['auc']:.3f}"]
    return status, reasons, notes


__all__: Sequence[str] = ("MODEL_TYPES", "attack_report", "check_model", "evaluate", "likelihood_ratio",
                          "report_path", "structural", "thresholds", "worst_case")
