"""Regressions with their evidence: coefficients, standard errors and confidence intervals, with the
number of persons and the residual degrees of freedom the airlock checks. Ordinary least squares is
computed with numpy (a core dependency); ``kind="logit"`` uses statsmodels, from the ``analysis`` extra,
imported only then."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from guichet.analysis.metadata import Cell, Metadata, write
from guichet.analysis.tables import PERSON, Data, _check_columns, _connect, _num, _q, _write_csv
from guichet.errors import BadInput

COLUMNS = ("coef", "std_err", "ci_low", "ci_high")
Z95 = 1.959963984540054


def regression(data: Data, y: str, x: Sequence[str], *, out: str | Path, kind: str = "ols",
               person: str = PERSON, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Fit ``y ~ 1 + x`` (numeric columns) and write one row per term."""
    con, source = _connect(data, con)
    xs = list(x)
    _check_columns(con, [y, person, *xs])
    if kind not in ("ols", "logit"):
        raise BadInput("kind: ols or logit")
    cols = ", ".join(f"CAST({_q(c)} AS DOUBLE)" for c in [y, *xs])
    sql = (f"SELECT CAST({_q(person)} AS VARCHAR), {cols} FROM _src WHERE "
           + " AND ".join(f"{_q(c)} IS NOT NULL" for c in [y, *xs]))
    rows = con.execute(sql).fetchall()
    persons = sorted({r[0] for r in rows})
    n = len(rows)
    k = len(xs) + 1
    if n == 0:
        raise BadInput("regression: no complete row")
    yv = np.array([r[1] for r in rows], dtype=float)
    xm = np.column_stack([np.ones(n), *[np.array([r[2 + i] for r in rows], dtype=float) for i in range(len(xs))]])
    coef, se = (_ols(yv, xm) if kind == "ols" else _logit(yv, xm))
    dof = n - int(np.linalg.matrix_rank(xm))
    terms = ["const", *xs]
    body: list[list[Any]] = []
    cells: list[Cell] = []
    for i, term in enumerate(terms, start=1):
        c, s = float(coef[i - 1]), float(se[i - 1])
        values = {"coef": c, "std_err": s, "ci_low": c - Z95 * s, "ci_high": c + Z95 * s}
        body.append([term, *(_num(values[v]) for v in COLUMNS)])
        for col in COLUMNS:
            cells.append(Cell(row=i, column=col, stat=col, value=_num(values[col]), persons=len(persons),
                              records=n, key=[term]))
    out = Path(out)
    _write_csv(out, ["term", *COLUMNS], body)
    meta = Metadata(helper="regression", parameters={"y": y, "x": xs, "kind": kind, "person": person},
                    kind="regression", output=out.name, sha256="", code=sql, dims=["term"], cells=cells,
                    layout="long", column_labels=list(COLUMNS), dof=dof,
                    extra={"n_obs": n, "n_params": k, "persons_cell": "all cells share the model's persons"},
                    source=source)
    # The persons behind every coefficient are the persons of the fit: listed once, as cell -1.
    write(out, meta, None)
    _write_model_persons(out, persons)
    return out


def _write_model_persons(out: Path, persons: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from guichet.analysis.metadata import persons_path
    pq.write_table(pa.table({"cell": pa.array([-1] * len(persons), pa.int32()),
                             "person": pa.array(persons, pa.string()).dictionary_encode()}),
                   persons_path(out), compression="zstd")


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = max(len(y) - x.shape[1], 0)
    sigma2 = float(resid @ resid) / dof if dof else math.nan
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    return coef, np.sqrt(np.abs(np.diag(cov)))


def _logit(y: np.ndarray, x: np.ndarray) -> tuple[Any, Any]:
    try:
        import statsmodels.api as sm  # the analysis extra
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BadInput("regression kind=logit needs the analysis extra (pip install guichet[analysis])") from exc
    fit = sm.Logit(y, x).fit(disp=0)
    return fit.params, fit.bse
