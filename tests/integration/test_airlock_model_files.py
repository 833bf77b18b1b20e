"""A model leaves through an output request as a guichet.model/1 JSON file, checked through its attack
report and its card (pass); without the card it fails; a raw pickle cannot be submitted at all."""

from __future__ import annotations

import numpy as np
import pytest

from guichet.airlock import request_services as rs
from guichet.analysis.attacks import attack_report
from guichet.analysis.model_files import save_card, save_model
from guichet.errors import BadInput
from guichet.hub import Hub
from tests.airlock_requests_support import PERMIT, outputs, setup

pytestmark = pytest.mark.integration
pytest.importorskip("sklearn", reason="scikit-learn is the analysis extra")
CTX = {"context": "a hospitalisation-risk model of the synthetic cohort",
       "controls": "attack report on held-out records, model card with the training population"}


def test_a_model_file_is_submitted_and_checked_a_pickle_is_refused(hub: Hub) -> None:
    from sklearn.linear_model import LogisticRegression

    a = setup(hub)
    out = outputs(hub)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    model = LogisticRegression().fit(X[:200], y[:200])
    f = save_model(model, out / "risk.model.json", features=["age", "stays", "sex"])
    attack_report(model, f, X[:200], y[:200], X[200:], y[200:], shadows=4)
    bare = save_model(model, out / "bare.model.json")
    attack_report(model, bare, X[:200], y[:200], X[200:], y[200:], shadows=4)
    save_card({"sample_size": {"train": 200, "test": 200}}, f)
    (out / "risk.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(BadInput, match="raw pickle is refused"):
        rs.submit(hub, a["alice"], permit=PERMIT, files=["risk.pkl"], group="model", **CTX)
    r = rs.submit(hub, a["alice"], permit=PERMIT, files=["risk.model.json", "bare.model.json"], group="model", **CTX)
    files = {x["file"]: x for x in r["files"]}
    assert files["risk.model.json"]["status"] == "pass", files["risk.model.json"]["check"]
    assert files["risk.model.json"]["check"]["kind"] == "model"
    assert files["bare.model.json"]["status"] == "fail"
    assert files["bare.model.json"]["check"]["reasons"] == ["model-without-card"]
