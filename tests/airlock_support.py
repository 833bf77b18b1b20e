"""Synthetic microdata for the airlock's tests and benchmark: persons with a sex, an age band, a region,
a cost, a follow-up time and an event. Only synthetic data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def people(n: int = 400, seed: int = 0, rare: float = 0.04) -> pa.Table:
    rng = np.random.default_rng(seed)
    bands = ["00-17", "18-39", "40-64", "65+"]
    return pa.table({
        "PERSON_ID": [f"p{i:05d}" for i in range(n)],
        "sex": rng.choice(["F", "M"], n).tolist(),
        "age_band": rng.choice(bands, n, p=[0.2, 0.3, 0.5 - rare, 0.0 + rare]).tolist(),
        "region": rng.choice(["ARA", "BFC", "BRE", "IDF"], n, p=[0.3, 0.2, 0.2, 0.3]).tolist(),
        "cost": np.round(rng.gamma(2.0, 150.0, n), 2).tolist(),
        "time": rng.integers(1, 60, n).tolist(),
        "event": rng.integers(0, 2, n).tolist(),
    })
