"""Audits of scikit-learn models: performance and calibration by group with confidence intervals
(fairlearn's ``MetricFrame`` with its bootstrap), each group's effect against the rest with a bootstrap
interval (Bonferroni-adjusted over the groups), permutation importance, partial dependence, a
counterfactual probe (change only a sensitive attribute), a flag on predictions in low-density regions of
the training data (the tails), a model card with the TRIPOD+AI items the hub can fill itself, and a
datasheet of the extract.

scikit-learn, fairlearn (and pandas, which fairlearn uses) are the ``analysis`` extra, imported when a
function needs them; nothing here is needed by ``guichet demo``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa

from guichet.errors import BadInput

Metric = Callable[[np.ndarray, np.ndarray], float]


# --- metrics in numpy (fast enough to bootstrap) -------------------------------------------------------------
def recall(y: np.ndarray, p: np.ndarray) -> float:
    pos = y == 1
    return float(np.mean(p[pos] == 1)) if pos.any() else math.nan


def precision(y: np.ndarray, p: np.ndarray) -> float:
    sel = p == 1
    return float(np.mean(y[sel] == 1)) if sel.any() else math.nan


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(y == p)) if y.size else math.nan


def selection_rate(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(p == 1)) if p.size else math.nan


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2)) if y.size else math.nan


def mean_error(y: np.ndarray, p: np.ndarray) -> float:
    """Mean of prediction minus outcome (calibration-in-the-large; regressors: bias)."""
    return float(np.mean(p - y)) if y.size else math.nan


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(p - y))) if y.size else math.nan


def auc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    if not pos.size or not neg.size:
        return math.nan
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(order.size)
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    avg = cum - (counts - 1) / 2.0
    ranks[order] = avg[inv]
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


METRICS: dict[str, Metric] = {"recall": recall, "precision": precision, "accuracy": accuracy,
                              "selection_rate": selection_rate, "brier": brier, "mean_error": mean_error,
                              "mae": mae, "auc": auc}
SCORE_METRICS = frozenset({"brier", "mean_error", "mae", "auc"})  # read scores/probabilities, not decisions


def _metric(name: str | Metric) -> tuple[str, Metric]:
    if callable(name):
        return getattr(name, "__name__", "metric"), name
    if name not in METRICS:
        raise BadInput(f"metric: one of {', '.join(METRICS)}")
    return name, METRICS[name]


def _arr(x: Any) -> np.ndarray:
    if isinstance(x, pa.ChunkedArray | pa.Array):
        return np.asarray(x.to_numpy(zero_copy_only=False))
    return np.asarray(x)


# --- group effects ------------------------------------------------------------------------------------------
def group_effects(y_true: Any, y_pred: Any, groups: Any, *, metric: str | Metric = "recall", n_boot: int = 400,
                  confidence: float = 0.95, adjust: bool = True, min_group: int = 30,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Each group's metric minus the rest's, with a bootstrap interval: rows are resampled within the
    group and within the rest (stratified), the interval is the effect ± z·SE of the bootstrap differences
    (z Bonferroni-adjusted over the groups compared when ``adjust``); for proportions the SE is at least
    Agresti–Caffo's (a group at 0 % or 100 % has no bootstrap spread, not no uncertainty). Groups with fewer than ``min_group``
    rows where the metric is defined (its positives for recall) are listed with ``effect`` None."""
    name, fn = _metric(metric)
    y, p, g = _arr(y_true).astype(float), _arr(y_pred).astype(float), _arr(groups).astype(str)
    if not (y.shape == p.shape == g.shape):
        raise BadInput("y_true, y_pred and groups: the same length")
    rng = np.random.default_rng(seed)
    labels = sorted(set(g.tolist()))
    denominators = {lab: int(np.sum(y[g == lab] == 1)) if name == "recall" else int(np.sum(g == lab)) for lab in labels}
    compared = [lab for lab in labels if denominators[lab] >= min_group]
    alpha = 1 - confidence
    z = NormalDist().inv_cdf(1 - alpha / (2 * max(len(compared), 1) if adjust else 2))
    out: list[dict[str, Any]] = []
    for lab in labels:
        inside = np.flatnonzero(g == lab)
        rest = np.flatnonzero(g != lab)
        row: dict[str, Any] = {"group": lab, "n": int(inside.size), "denominator": denominators[lab],
                               "metric": name, "value": fn(y[inside], p[inside]), "rest": fn(y[rest], p[rest])}
        if lab not in compared or not rest.size:
            row.update(effect=None, ci_low=None, ci_high=None, reason=f"fewer than {min_group} to compare")
            out.append(row)
            continue
        effect = row["value"] - row["rest"]
        diffs = np.empty(n_boot)
        for b in range(n_boot):
            i = inside[rng.integers(0, inside.size, inside.size)]
            r = rest[rng.integers(0, rest.size, rest.size)]
            diffs[b] = fn(y[i], p[i]) - fn(y[r], p[r])
        finite = diffs[np.isfinite(diffs)]
        se = float(np.std(finite, ddof=1)) if finite.size > 1 else math.inf
        if name in PROPORTIONS:  # a group whose proportion is 0 or 1 has no bootstrap spread: Agresti–Caffo floor
            se = max(se, _agresti_caffo_se(y, p, inside, rest, name))
        row.update(effect=effect, se=se, ci_low=effect - z * se, ci_high=effect + z * se,
                   confidence=confidence, adjusted_for=len(compared) if adjust else 1)
        out.append(row)
    return out


PROPORTIONS = frozenset({"recall", "precision", "accuracy", "selection_rate"})


def _agresti_caffo_se(y: np.ndarray, p: np.ndarray, inside: np.ndarray, rest: np.ndarray, name: str) -> float:
    def counts(ix: np.ndarray) -> tuple[float, float]:
        yy, pp = y[ix], p[ix]
        if name == "recall":
            return float(np.sum((pp == 1) & (yy == 1))), float(np.sum(yy == 1))
        if name == "precision":
            return float(np.sum((pp == 1) & (yy == 1))), float(np.sum(pp == 1))
        if name == "accuracy":
            return float(np.sum(pp == yy)), float(ix.size)
        return float(np.sum(pp == 1)), float(ix.size)

    total = 0.0
    for ix in (inside, rest):
        x, n = counts(ix)
        q = (x + 1) / (n + 2)
        total += q * (1 - q) / (n + 2)
    return math.sqrt(total)


def strongest(effects: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The compared group with the largest |effect| (what a one-line audit reports)."""
    rows = [e for e in effects if e.get("effect") is not None]
    if not rows:
        raise BadInput("no group large enough to compare")
    best = max(rows, key=lambda e: abs(e["effect"]))
    return {"group": best["group"], "effect": best["effect"], "ci_low": best["ci_low"], "ci_high": best["ci_high"],
            "metric": best["metric"], "n": best["n"], "detected": bool(best["ci_low"] > 0 or best["ci_high"] < 0)}


# --- the audit of a model -----------------------------------------------------------------------------------
def _scores(model: Any, X: Any) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))[:, 1]
    return np.asarray(model.predict(X), dtype=float)


def by_group(model: Any, X: Any, y: Any, sensitive: Mapping[str, Any], *, metrics: Sequence[str] | None = None,
             n_boot: int = 200, seed: int = 0, threshold: float = 0.5) -> dict[str, Any]:
    """fairlearn MetricFrame per sensitive feature: each metric overall and by group with its bootstrap
    2.5–97.5 % interval, and the largest difference between groups with its interval."""
    from fairlearn.metrics import MetricFrame

    classifier = hasattr(model, "predict_proba")
    metrics = list(metrics or (["auc", "recall", "precision", "selection_rate", "brier", "mean_error"] if classifier
                               else ["mae", "mean_error"]))
    y = _arr(y).astype(float)
    s = _scores(model, X)
    decisions = (s >= threshold).astype(float) if classifier else s
    out: dict[str, Any] = {}
    for feature, values in sensitive.items():
        g = _arr(values).astype(str)
        per: dict[str, Any] = {}
        for name in metrics:
            fn = METRICS[name]
            pred = s if name in SCORE_METRICS else decisions
            with warnings.catch_warnings():  # a group where the metric is undefined: NaN, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                mf = MetricFrame(metrics=fn, y_true=y, y_pred=pred, sensitive_features=g, n_boot=n_boot,
                                 ci_quantiles=[0.025, 0.975], random_state=seed)
                lo, hi = mf.by_group_ci
                dlo, dhi = mf.difference_ci()
                difference = mf.difference()
            per[name] = {"overall": float(mf.overall),
                         "groups": {str(k): {"value": _f(v), "ci_low": _f(lo[k]), "ci_high": _f(hi[k]),
                                             "n": int(np.sum(g == str(k)))} for k, v in mf.by_group.items()},
                         "difference": _f(difference), "difference_ci": [_f(dlo), _f(dhi)]}
        out[feature] = per
    return out


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def calibration(model: Any, X: Any, y: Any, groups: Any, bins: int = 10) -> dict[str, Any]:
    """Per group: mean predicted probability, observed rate and the expected calibration error."""
    s, y, g = _scores(model, X), _arr(y).astype(float), _arr(groups).astype(str)
    out: dict[str, Any] = {}
    for lab in sorted(set(g.tolist())):
        m = g == lab
        edges = np.linspace(0, 1, bins + 1)
        idx = np.clip(np.digitize(s[m], edges) - 1, 0, bins - 1)
        ece = sum(abs(float(np.mean(s[m][idx == b])) - float(np.mean(y[m][idx == b]))) * np.mean(idx == b)
                  for b in range(bins) if np.any(idx == b))
        out[lab] = {"n": int(m.sum()), "mean_predicted": float(np.mean(s[m])), "observed": float(np.mean(y[m])),
                    "ece": float(ece)}
    return out


def importance(model: Any, X: Any, y: Any, *, n_repeats: int = 5, seed: int = 0,
               features: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Permutation importance (sklearn), largest first."""
    from sklearn.inspection import permutation_importance

    r = permutation_importance(model, X, y, n_repeats=n_repeats, random_state=seed)
    names: list[Any] = list(features) if features else list(getattr(X, "columns", range(np.asarray(X).shape[1])))
    rows = [{"feature": str(n), "mean": float(m), "std": float(sd)}
            for n, m, sd in zip(names, r.importances_mean, r.importances_std, strict=True)]
    return sorted(rows, key=lambda d: -d["mean"])


def dependence(model: Any, X: Any, feature: int | str, *, grid: int = 10) -> dict[str, Any]:
    """Partial dependence of the prediction on one feature (sklearn)."""
    from sklearn.inspection import partial_dependence

    r = partial_dependence(model, X, [feature], grid_resolution=grid)
    return {"feature": str(feature), "values": [float(v) for v in r["grid_values"][0]],
            "average": [float(v) for v in np.asarray(r["average"])[0]]}


def counterfactual(model: Any, X: Any, column: int | str, values: Sequence[Any], *,
                   threshold: float = 0.5) -> dict[str, Any]:
    """Set only the sensitive column (an index, or a name when ``X`` is a DataFrame) to each value in turn:
    the mean absolute change of the score and the share of decisions that flip, per value, against the
    observed predictions."""
    frame = hasattr(X, "columns") and hasattr(X, "copy")
    Xa: Any = X if frame else np.asarray(X, dtype=float)
    original = np.asarray(Xa[column]) if frame else Xa[:, column]
    base = _scores(model, Xa)
    out: dict[str, Any] = {}
    for v in values:
        Xc = Xa.copy()
        if frame:
            Xc[column] = v
        else:
            Xc[:, column] = v
        s = _scores(model, Xc)
        changed = original != v
        if not changed.any():
            continue
        out[str(v)] = {"n_changed": int(changed.sum()),
                       "mean_abs_change": float(np.mean(np.abs(s[changed] - base[changed]))),
                       "mean_change": float(np.mean(s[changed] - base[changed])),
                       "flipped": float(np.mean((s[changed] >= threshold) != (base[changed] >= threshold)))}
    return out


def _numeric(X: Any) -> np.ndarray | None:
    """The numeric columns of ``X`` as floats (a DataFrame's non-numeric columns left out), or None."""
    if hasattr(X, "select_dtypes"):
        X = X.select_dtypes("number")
    try:
        a = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        return None
    return a if a.ndim == 2 and a.shape[1] else None


class Tails:
    """Low-density flag: a point is in the tails when its mean distance to its ``k`` nearest training
    points (standardised features) exceeds the ``quantile`` of the training points' own distances."""

    def __init__(self, X_train: Any, k: int = 10, quantile: float = 0.99):
        from sklearn.neighbors import NearestNeighbors

        Xt = np.asarray(X_train, dtype=float)
        self.mu, self.sd = Xt.mean(axis=0), Xt.std(axis=0)
        self.sd[self.sd == 0] = 1.0
        self.k = min(k, len(Xt) - 1)
        self.nn = NearestNeighbors(n_neighbors=self.k + 1).fit((Xt - self.mu) / self.sd)
        d, _ = self.nn.kneighbors((Xt - self.mu) / self.sd)
        self.cut = float(np.quantile(d[:, 1:].mean(axis=1), quantile))

    def flag(self, X: Any) -> np.ndarray:
        d, _ = self.nn.kneighbors((np.asarray(X, dtype=float) - self.mu) / self.sd, n_neighbors=self.k)
        return np.asarray(d.mean(axis=1) > self.cut)


def audit(model: Any, X_train: Any, X_test: Any, y_test: Any, sensitive: Mapping[str, Any], *,
          features: Sequence[str] | None = None, n_boot: int = 200, seed: int = 0,
          metrics: Sequence[str] | None = None,
          counterfactuals: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
    """Everything above for one model on held-out data: by-group metrics with CIs, calibration by group,
    permutation importance, partial dependence of the three most important features, counterfactual
    probes of the sensitive features present in ``X`` (``counterfactuals``: feature → values), the tails.
    ``X`` is a numeric array (``features`` names its columns) or a DataFrame (a pipeline may encode its
    non-numeric columns; the tails are measured on the numeric ones)."""
    frame = hasattr(X_test, "columns")
    Xte = X_test if frame else np.asarray(X_test, dtype=float)
    names = list(features) if features else [str(c) for c in getattr(X_test, "columns", [])]
    if not names:
        raise BadInput("features: the names of X's columns")
    report: dict[str, Any] = {"n_test": len(Xte), "by_group": by_group(model, Xte, y_test, sensitive,
                                                                      metrics=metrics, n_boot=n_boot, seed=seed)}
    if hasattr(model, "predict_proba"):
        report["calibration"] = {f: calibration(model, Xte, y_test, v) for f, v in sensitive.items()}
    imp = importance(model, Xte, y_test, seed=seed, features=names)
    report["importance"] = imp
    idx: dict[str, int | str] = {f: (f if frame else i) for i, f in enumerate(names)}
    report["partial_dependence"] = []
    for r in imp[:3]:
        try:
            report["partial_dependence"].append(dependence(model, Xte, idx[r["feature"]]) | {"feature": r["feature"]})
        except (TypeError, ValueError) as exc:  # a categorical feature the model's pipeline encodes
            report["partial_dependence"].append({"feature": r["feature"], "skipped": str(exc)[:200]})
    report["counterfactual"] = {f: counterfactual(model, Xte, idx[f], list(v))
                                for f, v in (counterfactuals or {}).items() if f in idx}
    train_num, test_num = _numeric(X_train), _numeric(X_test)
    if train_num is None or test_num is None or len(train_num) < 3:
        report["tails"] = {"skipped": "no numeric features to measure density on"}
    else:
        tails = Tails(train_num)
        flags = tails.flag(test_num)
        report["tails"] = {"share_flagged": float(flags.mean()), "n_flagged": int(flags.sum()),
                           "rule": f"mean distance to the {tails.k} nearest training points (numeric features, "
                                   "standardised) above their 99th percentile"}
    return report


# --- model card and datasheet -------------------------------------------------------------------------------
TRIPOD_AI = (
    ("title", "1", "Identify the study as developing/evaluating a prediction model, the target population, outcome"),
    ("data_source", "5a", "Sources of data"),
    ("dates", "5b", "Dates of the data"),
    ("participants", "6a", "Eligibility criteria (the cohort and its attrition)"),
    ("outcome", "8a", "Outcome definition"),
    ("predictors", "9a", "Predictors"),
    ("sample_size", "10", "Sample size"),
    ("missing_data", "11", "Missing data"),
    ("model", "12e", "Model type, building and hyperparameters"),
    ("performance", "12g", "Performance measures with their uncertainty"),
    ("fairness", "12h", "Performance across groups (fairness)"),
    ("explainability", "12f", "Explanations (importance, partial dependence)"),
    ("tails", "23", "Where the model should not be trusted (low-density regions)"),
    ("intended_use", "7a", "Intended use and users (to be written by the researchers)"),
    ("limitations", "26", "Limitations (to be written by the researchers)"),
)


def model_card(model: Any, report: Mapping[str, Any], *, title: str, outcome: str, features: Sequence[str],
               data: Mapping[str, Any], cohort: Mapping[str, Any] | None = None, n_train: int | None = None,
               missing: str | None = None) -> dict[str, Any]:
    """A model card: the TRIPOD+AI items the hub can fill from what it knows (data, cohort, model,
    the audit report), the others listed as ``to_fill`` for the researchers."""
    params = {k: (v if isinstance(v, int | float | str | bool) or v is None else repr(v))
              for k, v in (model.get_params() if hasattr(model, "get_params") else {}).items()}
    filled: dict[str, Any] = {
        "title": title, "data_source": data.get("source"), "dates": data.get("period"),
        "participants": cohort, "outcome": outcome, "predictors": list(features),
        "sample_size": {"train": n_train, "test": report.get("n_test")},
        "missing_data": missing, "model": {"class": type(model).__name__, "parameters": params},
        "performance": {k: v["overall"] for k, v in next(iter(report["by_group"].values()), {}).items()},
        "fairness": report.get("by_group"), "explainability": {"importance": report.get("importance"),
                                                               "partial_dependence": report.get("partial_dependence"),
                                                               "counterfactual": report.get("counterfactual")},
        "tails": report.get("tails"),
    }
    items = []
    for key, number, text in TRIPOD_AI:
        value = filled.get(key)
        items.append({"item": number, "name": key, "text": text, "value": value,
                      "status": "filled" if value is not None else "to_fill"})
    return {"format": "guichet.modelcard/1", "items": items}


def datasheet(tables: Mapping[str, pa.Table], *, permit: str | None = None,
              coarsened: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A datasheet of an extract: per table its rows, persons, columns and date range (as released)."""
    import pyarrow.compute as pc

    out: dict[str, Any] = {"format": "guichet.datasheet/1", "permit": permit, "tables": {},
                           "coarsened": dict(coarsened or {})}
    for name, t in sorted(tables.items()):
        entry: dict[str, Any] = {"rows": t.num_rows, "columns": t.column_names}
        if "PERSON_ID" in t.column_names:
            entry["persons"] = int(pc.count_distinct(t.column("PERSON_ID")).as_py())
        for c in t.column_names:
            if c in ("EXE_SOI_DTD", "ENT_DAT", "IMB_ALD_DTD", "BEN_DCD_DTE"):
                col = pc.cast(t.column(c), pa.string())
                mm = pc.min_max(col)
                entry.setdefault("dates", {})[c] = [mm["min"].as_py(), mm["max"].as_py()]
        out["tables"][name] = entry
    return out


__all__ = ["METRICS", "TRIPOD_AI", "Tails", "audit", "by_group", "calibration", "counterfactual", "datasheet",
           "dependence", "group_effects", "importance", "model_card", "strongest"]
