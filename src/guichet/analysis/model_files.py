"""Model files that may leave through the airlock, and the model card beside them.

A fitted model leaves as a file that holds numbers only, never code: ``save_model(model, "risk.model.json")``
writes scikit-learn's linear models (coefficients, intercept, classes) and decision trees (each node's
feature, threshold, children, values and training records) as JSON (format ``guichet.model/1``), which
``predict`` reads back without scikit-learn. ONNX (``.onnx``) and skops (``.skops``) files, made with those
libraries, are accepted too. Raw pickles (``.pkl``, ``.pickle``, ``.joblib``) are refused by the airlock: loading
one runs whatever code it names.

``save_card(card, model_file)`` writes the model card (``audit.model_card``) beside the model as
``MODEL.card.json``, naming the model file's SHA-256; the airlock requires it, and a training population
(``sample_size.train``) of at least the rule set's threshold, since a model can memorise its training rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guichet.analysis.metadata import sha256
from guichet.errors import BadInput

FORMAT = "guichet.model/1"
CARD_FORMAT = "guichet.modelcard-file/1"
JSON_SUFFIX = ".model.json"
CARD_SUFFIX = ".card.json"
SAFE_TYPES = (JSON_SUFFIX, ".onnx", ".skops")
PICKLES = (".pkl", ".pickle", ".joblib")


def model_type(path: str | Path) -> str | None:
    """The model file type of a name (``.model.json``, ``.onnx``, ``.skops``, or a pickle's), else None."""
    name = Path(path).name.lower()
    for suffix in (*SAFE_TYPES, *PICKLES):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def card_path(model_file: str | Path) -> Path:
    model_file = Path(model_file)
    return model_file.with_name(model_file.name + CARD_SUFFIX)


def _floats(a: Any) -> list[Any]:
    return np.asarray(a, dtype=float).tolist()


def save_model(model: Any, path: str | Path, *, features: Sequence[str] | None = None) -> Path:
    """Write a fitted scikit-learn linear model or decision tree as ``guichet.model/1`` JSON (``path`` ends
    ``.model.json``). Other models: save them as ONNX or skops with those libraries."""
    path = Path(path)
    if not path.name.endswith(JSON_SUFFIX):
        raise BadInput(f"{path.name}: a model file's name ends {JSON_SUFFIX}")
    out: dict[str, Any] = {"format": FORMAT, "class": type(model).__name__,
                           "features": list(features) if features is not None else None}
    classes = getattr(model, "classes_", None)
    if classes is not None:
        out["classes"] = np.asarray(classes).tolist()
    tree = getattr(model, "tree_", None)
    if tree is not None:
        out["kind"] = "tree"
        out["tree"] = {"left": tree.children_left.tolist(), "right": tree.children_right.tolist(),
                       "feature": tree.feature.tolist(), "threshold": _floats(tree.threshold),
                       "value": _floats(tree.value), "records": tree.n_node_samples.tolist()}
    elif getattr(model, "coef_", None) is not None:
        out["kind"] = "linear"
        out["coef"] = _floats(np.atleast_2d(model.coef_))
        out["intercept"] = _floats(np.atleast_1d(getattr(model, "intercept_", 0.0)))
        out["link"] = ("identity" if classes is None
                       else "logistic" if hasattr(model, "predict_proba") else "sign")
        if classes is not None and len(classes) > 2:
            raise BadInput(f"{type(model).__name__}: multiclass linear models are not written as JSON (use ONNX)")
    else:
        raise BadInput(f"{type(model).__name__}: only linear models and decision trees are written as JSON "
                       "(save others as ONNX or skops)")
    path.write_text(json.dumps(out) + "\n", encoding="utf-8")
    return path


def predict(path: str | Path, X: Any) -> np.ndarray:
    """Predictions of a ``guichet.model/1`` file (classes for classifiers, values for regressors)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise BadInput(f"{Path(path).name}: not a {FORMAT} file")
    X = np.asarray(X, dtype=float)
    classes = doc.get("classes")
    if doc["kind"] == "linear":
        score = X @ np.asarray(doc["coef"]).T + np.asarray(doc["intercept"])
        score = score[:, 0] if score.shape[1] == 1 else score
        if classes is None:
            return np.asarray(score)
        return np.asarray(classes)[(score > 0).astype(int)]
    t = doc["tree"]
    value = np.asarray(t["value"])
    out = []
    for row in X:
        node = 0
        while t["left"][node] != -1:
            node = t["left"][node] if row[t["feature"][node]] <= t["threshold"][node] else t["right"][node]
        v = value[node][0]
        out.append(classes[int(np.argmax(v))] if classes is not None else float(v[0]))
    return np.asarray(out)


def save_card(card: Mapping[str, Any], model_file: str | Path) -> Path:
    """Write the model card beside the saved model (``MODEL.card.json``), naming its SHA-256."""
    model_file = Path(model_file)
    if not model_file.is_file():
        raise BadInput(f"{model_file.name}: save the model first (its checksum goes in the card)")
    if training_population(card) is None:
        raise BadInput("model card: sample_size.train (the training population) is needed")
    path = card_path(model_file)
    doc = {"format": CARD_FORMAT, "model_file": model_file.name, "sha256": sha256(model_file), "card": dict(card)}
    path.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def training_population(card: Mapping[str, Any]) -> int | None:
    """``sample_size.train`` of a model card (``audit.model_card``'s items, or a plain ``sample_size``)."""
    size = card.get("sample_size")
    for item in card.get("items", []) if isinstance(card.get("items"), list) else []:
        if isinstance(item, Mapping) and item.get("name") == "sample_size":
            size = item.get("value")
    train = size.get("train") if isinstance(size, Mapping) else None
    return int(train) if isinstance(train, int | float) and not isinstance(train, bool) else None


def check_card(model_file: Path, threshold: float) -> list[str]:
    """The airlock's reasons about a model's file type and card: a raw pickle, no card, a card of another
    file, a training population under ``threshold``."""
    reasons: list[str] = []
    if model_type(model_file) in PICKLES:
        reasons.append("model-raw-pickle")
    path = card_path(model_file)
    if not path.is_file():
        return [*reasons, "model-without-card"]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return [*reasons, "model-card-unreadable"]
    if not isinstance(doc, dict) or doc.get("format") != CARD_FORMAT or doc.get("sha256") != sha256(model_file):
        return [*reasons, "model-card-of-another-file"]
    n = training_population(doc.get("card") or {})
    if n is None:
        reasons.append("model-training-population-unknown")
    elif n < threshold:
        reasons.append(f"model-training-population-too-small: {n} < {threshold:g}")
    return reasons


__all__ = ["CARD_SUFFIX", "JSON_SUFFIX", "PICKLES", "SAFE_TYPES", "card_path", "check_card", "model_type",
           "predict", "save_card", "save_model", "training_population"]
