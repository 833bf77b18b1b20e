"""Cell-by-cell comparison of the airlock with ACRO (PyPI ``acro``, the issue's baseline), configured in
code with the same thresholds: the same microdata go through ACRO's ``crosstab``/``pivot_table`` and through
``guichet.analysis.crosstab`` + ``guichet.airlock.check``; each cell's ACRO outcome ("ok" or the checks it
failed) is set beside our verdict. Used by ``benchmarks/airlock_acro.py`` and ``tests/spec/test_airlock_acro.py``.
Only synthetic data."""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from guichet.airlock.check import check_file
from guichet.airlock.rules import load
from guichet.analysis import crosstab

ACRO_TOTAL = "All"


@dataclass(frozen=True)
class Spec:
    rows: str
    columns: str
    values: str | None = None
    agg: str = "count"
    margins: bool = True

    def label(self) -> str:
        what = "count" if self.values is None else f"{self.agg}({self.values})"
        return f"{what} by {self.rows} x {self.columns}{' +margins' if self.margins else ''}"


@dataclass
class Comparison:
    tables: int = 0
    cells: int = 0
    acro_flagged: int = 0
    both_flagged: int = 0
    missed: list[str] = field(default_factory=list)  # ACRO flags, we pass: must stay empty
    extra: dict[str, int] = field(default_factory=dict)  # we flag, ACRO passes: by our reason
    extra_cells: int = 0
    acro_seconds: list[float] = field(default_factory=list)  # per table
    our_seconds: list[float] = field(default_factory=list)

    def add(self, other: Comparison) -> None:
        self.tables += other.tables
        self.cells += other.cells
        self.acro_flagged += other.acro_flagged
        self.both_flagged += other.both_flagged
        self.missed += other.missed
        self.extra_cells += other.extra_cells
        self.acro_seconds += other.acro_seconds
        self.our_seconds += other.our_seconds
        for k, v in other.extra.items():
            self.extra[k] = self.extra.get(k, 0) + v


def microdata(n: int, seed: int, *, rare: float = 0.0, dominant: int = 0, records_per_person: int = 1,
              zeros: bool = False, negatives: int = 0) -> pa.Table:
    """Persons (each with ``records_per_person`` records) with sex, age band, region and a cost."""
    rng = np.random.default_rng(seed)
    p_age = np.array([0.25, 0.3, 0.45 - rare, rare]) if rare else np.array([0.25, 0.3, 0.25, 0.2])
    person = np.repeat(np.arange(n), records_per_person)
    m = len(person)
    sex = rng.choice(["F", "M"], n)[person]
    age = rng.choice(["00-17", "18-39", "40-64", "65+"], n, p=p_age)[person]
    region = rng.choice(["ARA", "BFC", "BRE", "IDF", "OCC"], n, p=[0.25, 0.15, 0.2, 0.25, 0.15])[person]
    if zeros:  # nobody under 18 in BFC
        region = np.where((age == "00-17") & (region == "BFC"), "ARA", region)
    cost = np.round(rng.gamma(2.0, 150.0, m), 2)
    for _k in range(dominant):
        cost[rng.integers(0, m)] = float(rng.choice([2e4, 1e5, 1e6]))
    for _k in range(negatives):
        cost[rng.integers(0, m)] = -float(rng.integers(1, 50))
    return pa.table({"PERSON_ID": [f"q{p:06d}" for p in person], "sex": sex.tolist(), "age_band": age.tolist(),
                     "region": region.tolist(), "cost": cost.tolist()})


def make_acro(rules: str = "snds") -> Any:
    """ACRO configured in code with the rule set's thresholds (ACRO fails a count below ``safe_threshold``,
    as we fail one below ``threshold``)."""
    from acro import ACRO  # the airlock-bench extra

    r = load(rules)
    acro = ACRO(suppress=False)
    logging.getLogger("acro").setLevel(logging.ERROR)  # after ACRO's own set-up, which logs at INFO
    acro.config.update(safe_threshold=r.threshold, safe_dof_threshold=r.min_dof, safe_nk_n=r.dominance_n,
                       safe_nk_k=r.dominance_k, safe_pratio_p=r.p_percent, zeros_are_disclosive=True,
                       check_missing_values=False)
    assert acro.sdc_checks.risk_appetite is acro.config  # ACRO's checks read this very dict
    return acro


def acro_outcome(acro: Any, df: Any, spec: Spec) -> dict[tuple[str, str], str]:
    with warnings.catch_warnings():  # pandas' deprecation warnings inside ACRO, not ours
        warnings.simplefilter("ignore")
        if spec.values is None:
            acro.crosstab(df[spec.rows], df[spec.columns], margins=spec.margins)
        else:
            acro.pivot_table(df, index=spec.rows, columns=spec.columns, values=spec.values, aggfunc=spec.agg,
                             margins=spec.margins)
    record = list(acro.results.results.values())[-1]
    outcome = record.outcome
    out = {}
    for r in outcome.index:
        for c in outcome.columns:
            col = c[-1] if isinstance(c, tuple) else c
            out[(str(r), str(col))] = str(outcome.loc[r, c]).strip()
    acro.results.remove(record.uid)
    return out


def our_verdicts(table: pa.Table, spec: Spec, folder: Path, rules: str = "snds"
                 ) -> dict[tuple[str, str], tuple[str, list[str]]]:
    out = crosstab(table, spec.rows, spec.columns, values=spec.values, agg=spec.agg, margins=spec.margins,
                   out=folder / "t.csv")
    result = check_file(out, rules)
    import json

    from guichet.analysis.metadata import meta_path
    keys = {(c["row"], c["column"]): c["key"] for c in json.loads(meta_path(out).read_text())["cells"]}
    verdicts = {}
    for c in result.cells:
        k = keys[(c.row, c.column)]
        verdicts[tuple(ACRO_TOTAL if x == "Total" else x for x in k)] = (c.verdict, c.reasons)
    return verdicts  # type: ignore[return-value]


def compare(table: pa.Table, specs: list[Spec], acro: Any, rules: str = "snds") -> Comparison:
    df = table.to_pandas()
    result = Comparison()
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            t0 = time.perf_counter()
            theirs = acro_outcome(acro, df, spec)
            t1 = time.perf_counter()
            ours = our_verdicts(table, spec, Path(tmp), rules)
            result.acro_seconds.append(t1 - t0)
            result.our_seconds.append(time.perf_counter() - t1)
            result.tables += 1
            for key, outcome in theirs.items():
                verdict, reasons = ours.get(key, ("missing", []))
                result.cells += 1
                flagged = verdict in ("fail", "review")
                if outcome != "ok":
                    result.acro_flagged += 1
                    if flagged:
                        result.both_flagged += 1
                    else:
                        result.missed.append(f"{spec.label()} {key}: ACRO {outcome}, ours {verdict}")
                elif flagged:
                    result.extra_cells += 1
                    for reason in reasons or ["?"]:
                        result.extra[reason] = result.extra.get(reason, 0) + 1
    return result


COUNT_SPECS = [Spec("sex", "age_band"), Spec("region", "age_band"), Spec("age_band", "sex", margins=False),
               Spec("region", "sex")]
MAGNITUDE_SPECS = [Spec("sex", "age_band", "cost", "mean"), Spec("region", "age_band", "cost", "sum"),
                   Spec("region", "sex", "cost", "mean", margins=False), Spec("age_band", "sex", "cost", "median")]
