"""The automatic check of one output: a verdict per cell with its reasons, secondary suppression, and the
table's status.

A CSV written by a helper (``guichet.analysis``) is checked from its sidecar: the persons, contributions and
degrees of freedom behind each cell. A plain CSV has no such evidence: its numeric columns are taken as
counts of persons, a cell that breaks a rule fails and the others are at best ``review``. A figure is checked
through the helper-written table it was drawn from, and fails without one. Margins (a row or column
labelled Total, All or Ensemble, or equal to the sum of the others) make a one- or two-dimensional table a
linear system, and ``suppress`` withholds further cells so that none of the failing ones can be computed;
such a suppressed table, written by ``write_suppressed``, can pass.

Verdicts: ``fail`` (a rule is broken, or the cell is withheld only to protect another: ``secondary``),
``review`` (a checker must decide), ``pass``. The table's status is the worst of its cells' and its own
reasons'.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from guichet.airlock import identifiers
from guichet.airlock.rules import RuleSet, load
from guichet.airlock.suppress import Grid, Pos, secondary
from guichet.analysis import metadata as md
from guichet.analysis.attacks import check_model
from guichet.analysis.model_files import check_card, model_type
from guichet.errors import BadInput

MARGIN_LABELS = re.compile(r"^\s*(total|totals|all|ensemble)\s*$", re.IGNORECASE)
ORDER = {"pass": 0, "review": 1, "fail": 2}
MAX_BYTES = 64 << 20
FIGURES = (".png", ".svg")


@dataclass
class CellVerdict:
    row: int
    column: str
    verdict: str
    reasons: list[str]
    value: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "verdict": self.verdict, "reasons": self.reasons}


@dataclass
class Result:
    file: str
    status: str
    rules: str
    kind: str  # the helper's kind, or "plain"
    metadata: bool
    cells: list[CellVerdict]
    reasons: list[str] = field(default_factory=list)  # about the whole table
    notes: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    suppression: dict[str, Any] = field(default_factory=dict)
    threshold: int = 0

    def _position(self, cell: CellVerdict) -> tuple[int, int]:
        return cell.row, self.header.index(cell.column) if cell.column in self.header else -1

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "status": self.status, "rules": self.rules, "threshold": self.threshold,
                "kind": self.kind, "metadata": self.metadata, "reasons": self.reasons, "notes": self.notes,
                "suppression": self.suppression,
                "cells": [c.to_dict() for c in sorted(self.cells, key=self._position)],
                "counts": {v: sum(1 for c in self.cells if c.verdict == v) for v in ORDER}}


def _worst(verdicts: list[str]) -> str:
    return max(verdicts, key=lambda v: ORDER[v], default="pass")


# --- reading ------------------------------------------------------------------------------------------------
def read_csv(path: Path) -> tuple[list[str], list[list[str]], str]:
    if not path.is_file():
        raise BadInput(f"{path.name}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise BadInput(f"{path.name}: larger than {MAX_BYTES >> 20} MB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="cp1252")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{path.name}: not a text file") from exc
    if "\x00" in text:
        raise BadInput(f"{path.name}: not a text file")
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(x.strip() for x in r)]
    if not rows:
        raise BadInput(f"{path.name}: empty")
    header = [h.strip() for h in rows[0]]
    body = [[x.strip() for x in r] + [""] * (len(header) - len(r)) for r in rows[1:]]
    if not body:
        raise BadInput(f"{path.name}: a header and no data row")
    return header, body, delimiter


def parse_number(text: str, delimiter: str = ",") -> float | None:
    t = text.strip().replace("\u202f", "").replace("\xa0", "")
    if delimiter == ";" and re.fullmatch(r"-?\d+(,\d+)?", t):
        t = t.replace(",", ".")
    try:
        v = float(t)
    except ValueError:
        return None
    return v if v == v else None


# --- entry point --------------------------------------------------------------------------------------------
def check_file(path: str | Path, rules: str = "snds", properties: dict[str, Any] | None = None) -> Result:
    """Check one output file (CSV or a figure with its table)."""
    path = Path(path)
    ruleset = load(rules, properties)
    if path.suffix.lower() in FIGURES:
        return _check_figure(path, ruleset)
    if model_type(path) is not None:
        return _check_model(path, ruleset)
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        raise BadInput(f"{path.name}: the airlock checks CSV tables, PNG or SVG figures and models with their attack report")
    header, body, delimiter = read_csv(path)
    meta = md.read(path)
    reasons: list[str] = []
    if meta is not None and meta.get("sha256") != md.sha256(path):
        reasons.append("altered")
        meta = None
    if meta is not None and meta.get("helper") == "figure":
        raise BadInput(f"{path.name}: a figure's sidecar beside a table")
    if meta is not None:
        result = _check_meta(path, header, body, meta, ruleset)
    else:
        result = _check_plain(path, header, body, delimiter, ruleset)
    result.reasons = reasons + result.reasons
    _identifiers(result, header, body, meta is None)
    result.status = _worst([*(c.verdict for c in result.cells), *(_table_verdict(r) for r in result.reasons)])
    return result


def _table_verdict(reason: str) -> str:
    return {"altered": "review", "no-metadata": "review", "suppression-review": "review"}.get(reason, "fail")


def _check_model(path: Path, ruleset: RuleSet) -> Result:
    """A trained model: through its attack report (``analysis.attacks``), its thresholds the permit's output
    conditions the report recorded, the minimum leaf and k raised to the rule set's threshold; and through its
    card (``analysis.model_files``): a raw pickle, no card, or a training population under the threshold fail."""
    if not path.is_file():
        raise BadInput(f"{path.name}: no such file")
    status, reasons, notes = check_model(path, None, ruleset.threshold)
    card = check_card(path, ruleset.threshold)
    reasons = card + [r for r in reasons if not (r.startswith("model-training-population") and any(
        c.startswith("model-training-population") for c in card))]
    status = "fail" if reasons else status
    return Result(file=path.name, status=status, rules=ruleset.name, kind="model",
                  metadata=reasons != ["model-without-attack-report"], cells=[], reasons=reasons, notes=notes,
                  threshold=ruleset.threshold)


def _check_figure(path: Path, ruleset: RuleSet) -> Result:
    meta = md.read(path)
    if not path.is_file():
        raise BadInput(f"{path.name}: no such file")
    if meta is None or meta.get("helper") != "figure" or meta.get("sha256") != md.sha256(path):
        return Result(file=path.name, status="fail", rules=ruleset.name, kind="figure", metadata=False, cells=[],
                      reasons=["figure-without-table"], threshold=ruleset.threshold)
    table = Path(meta["table"])
    if not table.is_absolute():
        table = path.parent / table
    if not table.is_file() or md.sha256(table) != meta.get("table_sha256"):
        return Result(file=path.name, status="fail", rules=ruleset.name, kind="figure", metadata=False, cells=[],
                      reasons=["figure-without-table"], threshold=ruleset.threshold)
    result = check_file(table, ruleset.name)
    result.notes.append(f"figure {path.name}: checked through its table {table.name}")
    result.file = path.name
    result.kind = "figure"
    return result


# --- helper-written tables ----------------------------------------------------------------------------------
def primary_reasons(cell: dict[str, Any], kind: str, meta: dict[str, Any], rules: RuleSet) -> list[tuple[str, str]]:
    """(reason, verdict) pairs for one cell of a helper-written table."""
    out: list[tuple[str, str]] = []
    stat = cell.get("stat", "")
    persons = int(cell.get("persons", 0))
    value = cell.get("value")
    thr = rules.threshold

    def policy(reason: str, verdict: str) -> None:
        if verdict != "pass":
            out.append((reason, verdict))

    if kind == "regression":
        dof = meta.get("dof")
        if dof is None or dof < rules.min_dof:
            out.append(("dof", "fail"))
        if persons < thr:
            out.append(("threshold", "fail"))
        return out
    if kind == "survival":
        if stat == "at_risk":
            if persons < thr:
                out.append(("threshold", "fail"))
        elif stat in ("events", "censored"):
            if 0 < persons < thr:
                out.append(("survival-step", "fail"))
        return out
    if stat in ("count", "n"):
        if persons == 0:
            policy("zero", rules.zeros)
        elif persons < thr:
            out.append(("threshold", "fail"))
        if stat == "count" and rules.rounding_base and isinstance(value, int | float) \
                and value % rules.rounding_base:
            out.append(("rounding", "fail"))
        if kind == "histogram" and meta.get("extra", {}).get("edges_at_extremes") \
                and cell.get("row") in (1, len(meta.get("cells", [])) or 1):
            policy("extreme", "review" if rules.extremes != "pass" else "pass")
        return out
    # magnitude statistics: sums, means, spreads, quantiles, extremes
    if persons == 0:
        policy("zero", rules.zeros)
        return out
    if persons < thr:
        out.append(("threshold", "fail"))
    if stat in ("min", "max"):
        policy("extreme", rules.extremes)
    if stat == "std":
        if persons - 1 < rules.min_dof:
            out.append(("dof", "fail"))
        policy("spread", rules.spread)
    # Dominance and p % apply to sums and what is made of them (means, spreads); a large contributor does
    # not move a median or another quantile, which the threshold and the uniform rule cover.
    if stat in ("sum", "mean", "std"):
        out += _dominance(cell, rules)
    if cell.get("all_same") and stat not in ("std",):
        out.append(("uniform", "fail"))
    return out


def _dominance(cell: dict[str, Any], rules: RuleSet) -> list[tuple[str, str]]:
    if cell.get("negatives", 0) > 0:
        return [("negative", rules.negatives)] if rules.negatives != "pass" else []
    out: list[tuple[str, str]] = []
    total = float(cell.get("total") or 0.0)
    top = [float(t) for t in cell.get("top", [])]
    if total > 0 and top:
        if sum(top[:rules.dominance_n]) >= rules.dominance_k * total:
            out.append(("dominance", "fail"))
        top1 = top[0]
        rest = total - sum(top[:2])
        if top1 > 0 and rest < rules.p_percent * top1:
            out.append(("p-percent", "fail"))
    return out


def _check_meta(path: Path, header: list[str], body: list[list[str]], meta: dict[str, Any],
                rules: RuleSet) -> Result:
    kind = str(meta.get("kind", ""))
    withheld: set[tuple[int, str]] = {(int(r), str(c)) for r, c in meta.get("extra", {}).get("withheld", [])}
    col_index = {h: j for j, h in enumerate(header)}
    verdicts: list[CellVerdict] = []
    failing: dict[tuple[int, str], list[str]] = {}
    for cell in meta.get("cells", []):
        row, column = int(cell["row"]), str(cell["column"])
        j = col_index.get(column)
        text = body[row - 1][j] if j is not None and 0 < row <= len(body) else ""
        if (row, column) in withheld:
            if text.strip():
                verdicts.append(CellVerdict(row, column, "fail", ["altered"], text))
            else:
                verdicts.append(CellVerdict(row, column, "pass", ["suppressed"], ""))
            continue
        pairs = primary_reasons(cell, kind, meta, rules)
        verdict = _worst([v for _, v in pairs])
        reasons = [r for r, _ in pairs]
        verdicts.append(CellVerdict(row, column, verdict, reasons, text))
        if verdict == "fail":
            failing[(row, column)] = reasons
    result = Result(file=path.name, status="pass", rules=rules.name, kind=kind, metadata=True, cells=verdicts,
                    header=header, rows=body, threshold=rules.threshold)
    if kind == "survival":
        _survival_rows(result)
    if kind in ("magnitude", "describe") and failing and meta.get("margins"):
        _review_margins_of_means(result, failing)
    grid = _meta_grid(meta, header, body)
    _apply_suppression(result, grid, failing, withheld, dims=len(meta.get("dims", [])))
    return result


def _review_margins_of_means(result: Result, failing: dict[tuple[int, str], list[str]]) -> None:
    """Means, medians and spreads are not sums: no linear system, but a total over a failing cell, with the
    other cells and their counts, can give it back. The totals of its lines go to a checker."""
    rows = {r for r, _ in failing}
    cols = {c for _, c in failing}
    last_row = max(c.row for c in result.cells)
    for c in result.cells:
        if c.verdict != "pass" or (c.row, c.column) in failing:
            continue
        if (c.row == last_row and (c.column in cols or c.column == "Total")) or (c.column == "Total" and c.row in rows):
            c.verdict = "review"
            c.reasons = ["suppression-review"]


def _survival_rows(result: Result) -> None:
    """A survival estimate moves with its row's events: it fails with them."""
    by_row: dict[int, list[CellVerdict]] = {}
    for c in result.cells:
        by_row.setdefault(c.row, []).append(c)
    for cells in by_row.values():
        bad = [r for c in cells if c.column in ("events", "censored", "at_risk") for r in c.reasons]
        for c in cells:
            if c.column == "survival" and bad:
                c.verdict = "fail"
                c.reasons = sorted(set(c.reasons) | set(bad))


def _meta_grid(meta: dict[str, Any], header: list[str], body: list[list[str]]
               ) -> tuple[Grid, dict[Pos, tuple[int, str]]] | None:
    """The linear system of a wide helper table with margins (or a one-dimensional one with a total)."""
    if not meta.get("margins") or meta.get("kind") not in ("frequency", "magnitude"):
        return None
    if meta.get("kind") == "magnitude" and meta.get("parameters", {}).get("agg") != "sum":
        return None  # means, medians...: the margins are not sums of the cells
    cells = meta["cells"]
    rows = sorted({int(c["row"]) for c in cells})
    cols = list(dict.fromkeys(str(c["column"]) for c in cells))
    values: list[list[float]] = [[0.0] * len(cols) for _ in rows]
    where: dict[Pos, tuple[int, str]] = {}
    for c in cells:
        i, j = rows.index(int(c["row"])), cols.index(str(c["column"]))
        values[i][j] = float(c.get("value") or 0)
        where[(i, j)] = (int(c["row"]), str(c["column"]))
    last = [c for c in cells if int(c["row"]) == rows[-1]]
    total_row = len(rows) - 1 if last and all(c.get("key", [""])[0] == "Total" for c in last) else None
    total_col = len(cols) - 1 if meta.get("layout") == "wide" and cols[-1] == "Total" else None
    if total_row is None and total_col is None:
        return None
    return Grid(values, total_row, total_col), where


def _apply_suppression(result: Result, grid_where: tuple[Grid, dict[Pos, tuple[int, str]]] | None,
                       failing: dict[tuple[int, str], list[str]], withheld: set[tuple[int, str]],
                       dims: int) -> None:
    if not failing and not withheld:
        return
    if grid_where is None:
        if dims > 2 and (failing or withheld):
            result.reasons.append("suppression-review")
            for c in result.cells:
                if c.verdict == "pass" and not c.reasons:
                    c.verdict = "review"
                    c.reasons = ["suppression-review"]
            result.suppression = {"method": "none", "why": "more than two dimensions: a checker reviews"}
        return
    grid, where = grid_where
    back = {v: k for k, v in where.items()}
    primary = {back[k] for k in failing if k in back}
    held = {back[k] for k in withheld if k in back}
    extra = secondary(grid, primary, held)
    by_pos = {(c.row, c.column): c for c in result.cells}
    for pos in sorted(extra):
        hit = by_pos.get(where[pos])
        if hit is not None:
            hit.verdict = "fail"
            hit.reasons = ["secondary"]
    result.suppression = {"method": "cycles", "primary": len(primary), "secondary": len(extra),
                          "withheld": len(held)}


# --- plain CSV ----------------------------------------------------------------------------------------------
def _check_plain(path: Path, header: list[str], body: list[list[str]], delimiter: str, rules: RuleSet) -> Result:
    ncols = len(header)
    numeric: list[int] = []
    for j in range(ncols):
        vals = [r[j] for r in body if r[j].strip()]
        if vals and all(parse_number(v, delimiter) is not None for v in vals):
            numeric.append(j)
    if numeric and numeric[0] == 0 and len(numeric) > 1 and _label_like(header[0], [r[0] for r in body], delimiter):
        numeric.remove(0)  # a first column of years, ages or times is the table's dimension, not counts
    labels = [j for j in range(ncols) if j not in numeric]
    total_rows = {i for i, r in enumerate(body) if any(MARGIN_LABELS.match(r[j]) for j in labels)}
    total_cols = {j for j in numeric if MARGIN_LABELS.match(header[j])}

    def num(i: int, j: int) -> float:
        return parse_number(body[i][j], delimiter) or 0.0

    inner_rows = [i for i in range(len(body)) if i not in total_rows]
    if not total_rows and len(body) >= 3:
        last = len(body) - 1
        if all(abs(sum(num(i, j) for i in range(last)) - num(last, j)) < 1e-9 and body[last][j].strip()
               for j in numeric) and numeric:
            total_rows = {last}
            inner_rows = list(range(last))
    if not total_cols and len(numeric) >= 3:
        lastc = numeric[-1]
        if all(abs(sum(num(i, j) for j in numeric[:-1]) - num(i, lastc)) < 1e-9 for i in range(len(body))):
            total_cols = {lastc}
    verdicts: list[CellVerdict] = []
    failing: dict[tuple[int, str], list[str]] = {}
    withheld: set[tuple[int, str]] = set()
    for i, r in enumerate(body):
        for j in numeric:
            text = r[j]
            name = header[j]
            if not text.strip():
                withheld.add((i + 1, name))
                verdicts.append(CellVerdict(i + 1, name, "pass", ["suppressed"], ""))
                continue
            v = parse_number(text, delimiter) or 0.0
            pairs: list[tuple[str, str]] = []
            if v != int(v):
                pairs.append(("not-a-count", "review"))
            elif v < 0:
                pairs.append(("negative", "review" if rules.negatives == "pass" else rules.negatives))
            elif v == 0:
                if rules.zeros != "pass":
                    pairs.append(("zero", rules.zeros))
            elif v < rules.threshold:
                pairs.append(("threshold", "fail"))
            if v == int(v) and rules.rounding_base and v % rules.rounding_base:
                pairs.append(("rounding", "fail"))
            if not any(p[1] == "fail" for p in pairs):
                pairs.append(("no-metadata", "review"))
            verdict = _worst([p[1] for p in pairs])
            verdicts.append(CellVerdict(i + 1, name, verdict, [p[0] for p in pairs], text))
            if verdict == "fail":
                failing[(i + 1, name)] = [p[0] for p in pairs]
    result = Result(file=path.name, status="review", rules=rules.name, kind="plain", metadata=False,
                    cells=verdicts, reasons=["no-metadata"], header=header, rows=body, threshold=rules.threshold)
    grid = None
    if len(labels) <= 1 and numeric and (total_rows or total_cols) and len(total_rows) <= 1 and len(total_cols) <= 1:
        row_order = inner_rows + sorted(total_rows)
        col_order = [j for j in numeric if j not in total_cols] + sorted(total_cols)
        values = [[num(i, j) for j in col_order] for i in row_order]
        where = {(a, b): (row_order[a] + 1, header[col_order[b]])
                 for a in range(len(row_order)) for b in range(len(col_order))}
        grid = (Grid(values, len(row_order) - 1 if total_rows else None,
                     len(col_order) - 1 if total_cols else None), where)
    dims = 2 if len(labels) <= 1 else len(labels) + 1
    if grid is None and (total_rows or total_cols):
        dims = max(dims, 3)  # subtotals or several label columns: margins, but no system we can prove
    _apply_suppression(result, grid, failing, withheld, dims=dims)
    if total_rows or total_cols:
        result.notes.append(f"margins: {len(total_rows)} total row(s), {len(total_cols)} total column(s)")
    return result


DIMENSION_NAMES = {"age", "ages", "year", "years", "annee", "année", "an", "month", "mois", "time", "temps",
                   "period", "periode", "période", "week", "semaine", "day", "jour", "t", "bin", "classe"}


def _label_like(name: str, values: list[str], delimiter: str) -> bool:
    """A numeric first column that names a dimension (age, year, time...), or whose values step evenly
    (0, 1, 2... or 2019, 2020...): counts rarely do."""
    if name.strip().lower() in DIMENSION_NAMES:
        return True
    nums = [parse_number(v, delimiter) for v in values if v.strip()]
    if len(nums) < 3 or any(n is None or n != int(n) for n in nums):
        return False
    steps = {b - a for a, b in pairwise(nums) if a is not None and b is not None}
    return len(steps) == 1 and steps.pop() > 0


def _identifiers(result: Result, header: list[str], body: list[list[str]], plain: bool) -> None:
    text_columns = {j for j in range(len(header))
                    if any(r[j].strip() and parse_number(r[j]) is None for r in body)}
    found = identifiers.identifier_columns(header, body, text_columns, distinct_rule=plain)
    if not found:
        return
    result.reasons.append("identifier")
    result.notes += [f"column {name}: {why}" for name, why in found.items()]
    by_pos = {(c.row, c.column): c for c in result.cells}
    for name in found:
        for i in range(len(body)):
            found_cell = by_pos.get((i + 1, name))
            if found_cell is None:
                c = CellVerdict(i + 1, name, "fail", [], body[i][header.index(name)])
                result.cells.append(c)
            else:
                c = found_cell
            c.verdict = "fail"
            if "identifier" not in c.reasons:
                c.reasons = [*c.reasons, "identifier"]


# --- a suppressed copy --------------------------------------------------------------------------------------
def write_suppressed(path: str | Path, out: str | Path, rules: str = "snds",
                     properties: dict[str, Any] | None = None) -> Result:
    """Write ``out``: the table with every failing cell (primary and secondary) left empty, and, for a
    helper-written table, its sidecar (the withheld cells listed, their values dropped); then check it."""
    path, out = Path(path), Path(out)
    result = check_file(path, rules, properties)
    if "identifier" in result.reasons:
        raise BadInput(f"{path.name}: identifier columns cannot be suppressed away; remove them")
    if "suppression-review" in result.reasons:
        raise BadInput(f"{path.name}: more than two dimensions, no proven suppression; a checker reviews")
    gone = {(c.row, c.column) for c in result.cells if c.verdict == "fail"}
    header, body, delimiter = read_csv(path)
    idx = {h: j for j, h in enumerate(header)}
    for row, column in gone:
        body[row - 1][idx[column]] = ""
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
    meta = md.read(path)
    if meta is not None and "altered" not in result.reasons:
        meta = dict(meta)
        meta["output"] = out.name
        meta["sha256"] = md.sha256(out)
        extra = dict(meta.get("extra", {}))
        extra["withheld"] = sorted([r, c] for r, c in gone | {tuple(x) for x in extra.get("withheld", [])})
        extra["suppressed_from"] = path.name
        meta["extra"] = extra
        for cell in meta["cells"]:
            if (int(cell["row"]), str(cell["column"])) in gone:
                cell["value"] = None
        md.meta_path(out).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if md.persons_path(path).is_file():  # the ledger's input (withheld cells are skipped there); never released
            shutil.copyfile(md.persons_path(path), md.persons_path(out))
    return check_file(out, rules, properties)
