"""Where linkage reads its inputs: a delivery folder (CSV, e.g. what ``guichet producer pseudonymise``
wrote) or the lake's published versions. Both end as one canonical view per logical SNDS table,
``raw_<TABLE>`` (``raw_T_MCOaaC``...), with the columns linkage needs as text plus three of its own:
``_table`` (the delivered file's path without ``.csv`` — the ``table`` of ``persons.csv`` and of the
synthetic truth), ``_row`` (its 1-based data row) and ``_year`` (the two-digit year of yearly PMSI tables).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from guichet.engine import Engine, SourceBinding, csv_source, literal, parquet_source
from guichet.errors import BadInput
from guichet.linkage.keygraph import logical_table, table_year

NINE_KEYS = ("DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP", "FLX_TRT_DTD",
             "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")
RETURN_CODES = ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET")
# What linkage reads of each logical table (absent columns read as NULL).
NEEDED: dict[str, tuple[str, ...]] = {
    "IR_BEN_R": ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_NIR_ANO", "BEN_CDI_NIR", "BEN_NAI_ANN", "BEN_NAI_MOI",
                 "BEN_SEX_COD", "BEN_DCD_DTE", "BEN_RES_DPT", "BEN_RES_COM"),
    "ER_PRS_F": ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_CDI_NIR", "EXE_SOI_DTD", "BEN_SEX_COD", "BEN_NAI_ANN",
                 "BEN_RES_DPT", "BEN_RES_COM", *NINE_KEYS),
    "ER_PHA_F": NINE_KEYS,
    "IR_IMB_R": ("BEN_NIR_PSA", "BEN_RNG_GEM"),
    "T_MCOaaC": ("NIR_ANO_17", "ETA_NUM", "RSA_NUM", *RETURN_CODES, "ENT_DAT", "SOR_DAT"),
    "T_MCOaaB": ("ETA_NUM", "RSA_NUM", "SOR_MOD"),
    "T_MCOaaD": ("ETA_NUM", "RSA_NUM"),
    "KI_CCI_R": ("DCD_IDT_ENC", "BEN_SEX_COD", "BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_RES_DPT", "BEN_RES_COM",
                 "BEN_DCD_DTE", "DCD_DPT_COD", "DCD_COM_COD", "DCD_LIE_COD"),
    "KI_ECD_R": ("DCD_IDT_ENC",),
}


@dataclass(frozen=True)
class SourceFile:
    logical: str  # IR_BEN_R, T_MCOaaC...
    label: str  # the delivered file's path without .csv (``delivery-02/ER_PRS_F``)
    kind: str  # csv | parquet
    path: Path
    columns: tuple[str, ...]
    delimiter: str = ";"
    encoding: str = "utf-8"
    key_name: str | None = None  # parquet: the engine's name of the file's key
    row_column: str | None = None  # parquet: the column holding the source row number
    label_column: str | None = None  # parquet: the column holding the source file

    @property
    def year(self) -> str | None:
        return table_year(Path(self.label).name)


@dataclass
class Sources:
    files: list[SourceFile] = field(default_factory=list)
    origin: str = ""  # "delivery DIR" or "lake"
    versions: dict[str, Any] = field(default_factory=dict)  # dataset -> version used (lake)
    delivered: dict[str, int] = field(default_factory=dict)  # label -> rows delivered (lake: incl. quarantined)

    def logical_tables(self) -> set[str]:
        return {f.logical for f in self.files}


def _header(path: Path, delimiter: str, encoding: str) -> tuple[str, ...]:
    with open(path, encoding="utf-8-sig" if encoding.lower().startswith("utf") else encoding) as fh:
        first = fh.readline().rstrip("\r\n")
    if not first:
        raise BadInput(f"{path}: empty file, no header")
    return tuple(c.strip().strip('"') for c in first.split(delimiter))


def delivery_sources(folder: Path) -> Sources:
    """Every table of a delivery folder: by its manifests (root and ``delivery-NN/``), else its CSV files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: not a folder")
    manifests = sorted(folder.glob("manifest.toml")) + sorted(folder.glob("*/manifest.toml"))
    found: dict[Path, SourceFile] = {}
    for manifest in manifests:
        try:
            doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BadInput(f"{manifest}: not a readable manifest ({type(exc).__name__})") from None
        for t in doc.get("tables", []):
            path = (manifest.parent / t["file"]).resolve()
            logical = logical_table(str(t.get("name", Path(t["file"]).stem)))
            if logical not in NEEDED or not path.is_file():
                continue
            delim, enc = str(t.get("delimiter", ";")), str(t.get("encoding", "utf-8"))
            label = str(path.relative_to(folder.resolve()).with_suffix(""))
            found[path] = SourceFile(logical, label, "csv", path, _header(path, delim, enc), delim, enc)
    if not manifests:
        for path in sorted(folder.rglob("*.csv")):
            if "truth" in path.relative_to(folder).parts:
                continue
            logical = logical_table(path.stem)
            if logical in NEEDED:
                label = str(path.relative_to(folder).with_suffix(""))
                found[path] = SourceFile(logical, label, "csv", path, _header(path, ";", "utf-8"))
    if not found:
        raise BadInput(f"{folder}: no SNDS table linkage can read (IR_BEN_R, ER_PRS_F, T_MCOaaC, KI_CCI_R...)")
    return Sources(sorted(found.values(), key=lambda f: f.label), origin=f"delivery {folder}")


def _file_select(src: SourceFile, view: str, needed: tuple[str, ...]) -> exp.Select:
    cols: list[exp.Expr] = []
    present = set(src.columns)
    for name in needed:
        value: exp.Expr = (exp.cast(exp.column(name, quoted=True), "VARCHAR") if name in present
                                 else exp.cast(exp.Null(), "VARCHAR"))
        cols.append(exp.alias_(value, name, quoted=True))
    if src.label_column:
        label: exp.Expr = exp.func("regexp_replace", exp.cast(exp.column(src.label_column), "VARCHAR"),
                                         literal(r"\.csv$"), literal(""))
    else:
        label = literal(src.label)
    cols.append(exp.alias_(label, "_table"))
    if src.row_column:
        cols.append(exp.alias_(exp.cast(exp.column(src.row_column), "BIGINT"), "_row"))
    else:
        cols.append(exp.alias_(exp.Window(this=exp.RowNumber()), "_row"))
    if src.label_column:  # the lake: the year is in each row's source file name (T_MCO23C.csv)
        year: exp.Expr = exp.func("nullif", exp.RegexpExtract(
            this=label.copy(), expression=literal(r"T_[A-Z]{3}([0-9]{2})[A-Z]+$"), group=literal(1)), literal(""))
    else:
        year = literal(src.year) if src.year else exp.cast(exp.Null(), "VARCHAR")
    cols.append(exp.alias_(year, "_year"))
    return exp.select(*cols).from_(view)


def bind_sources(engine: Engine, sources: Sources) -> set[str]:
    """Create ``raw_<TABLE>`` for every logical table present; returns the logical tables bound."""
    by_table: dict[str, list[SourceFile]] = {}
    for f in sources.files:
        by_table.setdefault(f.logical, []).append(f)
    for logical, files in by_table.items():
        selects: list[exp.Select] = []
        for i, src in enumerate(files):
            view = f"src_{logical}_{i}"
            if src.kind == "csv":
                engine.bind(view, csv_source(src.path, columns=list(src.columns), delimiter=src.delimiter,
                                             encoding=src.encoding, store_rejects=False),
                            SourceBinding(view, "csv", src.label, {"delimiter": src.delimiter}))
            else:
                engine.bind(view, parquet_source([src.path], src.key_name),
                            SourceBinding(view, "parquet", src.label, {"key": src.key_name}))
                if not src.columns:
                    described = engine.fetch_all(exp.Describe(this=exp.to_table(view)), purpose=f"columns of {view}")
                    src = replace(src, columns=tuple(str(r[0]) for r in described))
            selects.append(_file_select(src, view, NEEDED[logical]))
        union: exp.Expression = selects[0]
        for s in selects[1:]:
            union = exp.union(union, s, distinct=False)
        # Encrypted Parquet is read once into a temporary table (spill on the engine's tmpfs): DuckDB 2.0.1
        # fails ("Computed AES tag differs") when one query scans encrypted files twice (a self-join, or
        # two lake files joined on their row columns), so no linkage query scans the lake directly.
        kind = "TABLE" if any(f.kind == "parquet" for f in files) else "VIEW"
        engine.execute(exp.Create(this=exp.to_table(f"raw_{logical}"), kind=kind, replace=True,
                                  properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                                  expression=union), purpose=f"linkage input {logical}")
    for logical, needed in NEEDED.items():  # absent tables: empty views, so the plan stays the same
        if logical in by_table:
            continue
        cols = [exp.alias_(exp.cast(exp.Null(), "VARCHAR"), n, quoted=True) for n in needed]
        cols += [exp.alias_(exp.cast(exp.Null(), "VARCHAR"), "_table"),
                 exp.alias_(exp.cast(exp.Null(), "BIGINT"), "_row"),
                 exp.alias_(exp.cast(exp.Null(), "VARCHAR"), "_year")]
        empty = exp.select(*cols).where(exp.false())
        engine.execute(exp.Create(this=exp.to_table(f"raw_{logical}"), kind="VIEW", replace=True,
                                  properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                                  expression=empty), purpose=f"linkage input {logical} (absent)")
    return set(by_table)
