"""One table's deposit, up to encrypted staging: validate, quarantine, pseudonymise, write.

Pass 1 streams the CSV through DuckDB once: each row numbered at the scan, its typed columns, its
violations and, for failing rows only, the raw cells. Accepted rows go to an encrypted Parquet file (with
their source file and 1-based row number), failing rows to an encrypted quarantine file (identifier and
quasi-identifier cells sealed to the producer). Rows DuckDB's reader rejects as malformed come back from
its reject table by row number, and the rows it saw must add up to the file's (deposit/records.py).
Pass 2 checks keys over the staged file (primary key, ``unique``, foreign keys within the delivery or
against published versions); only when it finds something (or malformed rows shifted the numbering) is
the staged file rewritten.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from guichet.deposit.duplicates import DuplicateFinder, cells_as_text
from guichet.deposit.keychecks import KeyFailures, Reference, among_sorted, key_checks
from guichet.deposit.quarantine import (
    ROW_GROUP_ROWS,
    SOURCE_FILE,
    SOURCE_ROW,
    QuarantineWriter,
    decryption,
    encrypted_file_writer,
    renumbered,
)
from guichet.deposit.records import RecordScan, max_row_bytes, sanitised_copy, scan_records
from guichet.deposit.rejects import Rejects, quarantine_rejects, read_rejects
from guichet.deposit.rules import (
    ORDINAL,
    SEP,
    IdentifierRole,
    ValidationPlan,
    anchored,
    build_plan,
    col,
    matches,
    numbered,
)
from guichet.deposit.sealing import Sealer
from guichet.deposit.structure import FileShape, NotATable, inspect_file
from guichet.deposit.writer import BackgroundWriter, Replacement
from guichet.engine import Engine, EngineError, EngineSettings, SourceBinding, csv_source, literal, parquet_source
from guichet.errors import BadInput, Unavailable
from guichet.lake.keys import FileKey, Protection
from guichet.schema import TableSchema

QUARANTINE_SLICE = 5_000  # rows turned into Python objects at a time when they are quarantined
BATCH_CELLS = 15_000_000  # cells per validated batch: ~122k rows of a 123-column table, fewer of a wider one
# Rows the reader may skip before the file is refused whole: DuckDB keeps each one it records in memory
# (~1.4 KB, its line up to 10,000 characters) until the scan ends, so that this bounds its memory; a file with
# so many is not the schema's table anyway.
MAX_REJECTS = 100_000
Remap = Callable[[np.ndarray], np.ndarray]
CrashHook = Callable[[str], None]


@dataclass(frozen=True)
class TableJob:
    name: str
    dataset: str
    path: Path
    schema: TableSchema
    identifiers: dict[str, IdentifierRole]
    source_label: str  # the file's name as recorded with every row (relative to the delivery)


@dataclass
class StagedTable:
    job: TableJob
    shape: FileShape
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    data_file: Path | None = None
    data_key: FileKey | None = None
    quarantine_parts: list[tuple[Path, FileKey]] = field(default_factory=list)
    ephemeral_public: bytes = b""
    checks: list[dict[str, str]] = field(default_factory=list)
    view: str = ""

    def reasons_by_rule(self) -> dict[str, int]:
        return dict(sorted(self.reasons.items()))

    def file_keys(self) -> list[FileKey]:
        """The keys of every file staged (quarantine parts and data), to be recorded wrapped."""
        return [k for _, k in self.quarantine_parts] + ([self.data_key] if self.data_key else [])


def check_header(job: TableJob, shape: FileShape) -> None:
    names = list(shape.header)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise NotATable(job.path, f"column {dupes[0]} appears twice in the header", "line 1")
    expected = set(job.schema.field_names)
    missing = [n for n in job.schema.field_names if n not in names]
    extra = [n for n in names if n not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(extra[:5])}{'...' if len(extra) > 5 else ''}")
        raise NotATable(job.path, "wrong columns for schema " + job.schema.name + ": " + "; ".join(parts), "line 1")


MAX_COLUMNS = 2_000  # ten times the widest SNDS table; the validation plan of 10,000 ran out of memory


def check_schema(schema: TableSchema, where: str) -> None:
    """Refuse, before any row is read, a schema the deposit cannot run: too many columns, or a ``pattern``
    the engine cannot compile — invalid, or outside RE2's syntax (no look-ahead, look-behind or
    back-reference), which is what DuckDB runs."""
    if len(schema.fields) > MAX_COLUMNS:
        raise BadInput(f"{where}: {len(schema.fields):,} fields; a deposited table has at most "
                       f"{MAX_COLUMNS:,} columns")
    patterns = [(f.name, f.pattern) for f in schema.fields if f.pattern]
    if not patterns:
        return
    with Engine(EngineSettings(threads=1, memory_limit="64MB")) as engine:
        for name, pattern in patterns:
            try:
                engine.fetch_all(exp.select(matches(literal(""), anchored(pattern))),
                                 purpose=f"compile the pattern of {name}")
            except EngineError:
                raise BadInput(f"{where}: field {name}: pattern {pattern!r} is not a regular expression the hub "
                               "can run (RE2 syntax: no look-ahead, look-behind or back-reference)") from None


def inspect(job: TableJob) -> FileShape:
    shape = inspect_file(job.path, encoding=job.schema.encoding, delimiter=job.schema.delimiter)
    if job.schema.delimiter is None and set(shape.header) != set(job.schema.field_names):
        for d in (";", ",", "\t", "|"):  # the sniffed delimiter may be wrong: try the schema's names
            alt = inspect_file(job.path, encoding=shape.encoding, delimiter=d)
            if set(alt.header) == set(job.schema.field_names):
                return alt
    return shape


FLAGGED_ROWS = 50_000  # flagged rows kept (raw cells) before their rules are computed and they are quarantined


class FlaggedRows:
    """Rows pass 1 flagged (row number, raw cells), kept until their rule tokens are computed."""

    def __init__(self) -> None:
        self.rows: list[pa.Array] = []
        self.raw: list[pa.Array] = []
        self.count = 0

    def add(self, rows: pa.Array, raw: pa.Array) -> None:
        self.rows.append(rows)
        self.raw.append(raw)
        self.count += len(rows)

    def take(self) -> tuple[pa.Array, pa.Array]:
        rows, raw = pa.concat_arrays(self.rows), pa.concat_arrays(self.raw)
        self.rows, self.raw, self.count = [], [], 0
        return rows, raw


class TableStager:
    """Stages one table inside a deposit's engine."""

    def __init__(self, engine: Engine, protection: Protection, index: int, crash: CrashHook) -> None:
        self.engine, self.protection, self.index, self.crash = engine, protection, index, crash
        self.duplicates: DuplicateFinder | None = None
        self._violations_recorded = False
        self._side: Engine | None = None  # a connection of its own for flagged rows met while the main query streams

    def stage(self, job: TableJob, shape: FileShape, staging: Path, quarantine: Path, sealer: Sealer,
              references: dict[str, Reference]) -> StagedTable:
        """Stage one delivered file into the version's staging folders (its files named after the table, so
        that the yearly parts of one version sit side by side), its quarantined cells sealed by ``sealer``
        (one per version: the producer opens every part's rejections with one ephemeral key)."""
        check_header(job, shape)
        plan = build_plan(job.schema, f"src_{self.index}", shape.header, job.identifiers)
        self._bind_nomenclatures(plan)
        out, qwriter, rejects, read = self._read_every_row(
            _Reading(job, shape, staging, quarantine, sealer, plan))
        remap = _remapper(rejects.rows)
        if len(rejects):
            qwriter.renumber_current(remap)
        quarantine_rejects(self.engine, job.name, rejects, qwriter, out.reasons)
        qwriter.flush()
        self.crash("pass1_done")
        self._check_keys(out, plan, references, qwriter, rejects, remap)
        qwriter.close()
        out.quarantine_parts = qwriter.parts
        out.rows_in = read + len(rejects)
        out.rows_quarantined = qwriter.count
        return out

    def _check_keys(self, out: StagedTable, plan: ValidationPlan, references: dict[str, Reference],
                    qwriter: QuarantineWriter, rejects: Rejects, remap: Remap) -> None:
        """Key checks over the staged rows and the held-back duplicate candidates; failing rows quarantined,
        the staged file rewritten when rows leave or come back or numbers shift (malformed rows)."""
        job = out.job
        assert out.data_key is not None and out.data_file is not None
        self.engine.add_parquet_key(out.data_key.engine_name, out.data_key.key)
        view = out.view = f"stg_{self.index}"
        self.engine.bind(view, parquet_source([out.data_file], out.data_key.engine_name),
                         SourceBinding(view, "parquet", out.data_file.name, {"key_id": out.data_key.key_id}))
        held = self.duplicates.held_table() if self.duplicates else None
        checked, held_hub = view, None
        if held is not None:  # the key checks see the staged rows and the held-back candidates together
            held_hub = self._pseudonymise(job, held)
            self.engine.con.register(f"held_{self.index}", held_hub)
            checked = f"chk_{self.index}"
            union = exp.union(exp.select("*").from_(view), exp.select("*").from_(f"held_{self.index}"),
                              distinct=False)
            self.engine.execute(exp.Create(this=exp.to_table(checked), kind="VIEW", replace=True, expression=union,
                                           properties=exp.Properties(expressions=[exp.TemporaryProperty()])),
                                purpose=f"staged rows and held-back duplicates of {job.name}", record=False)
        # Unless the finder gave up (a file of mostly duplicates), every later occurrence of a key is a held-back
        # candidate: the exact check then only looks at the keys the candidates hold.
        among = None
        if self.duplicates is not None and not self.duplicates.overflow:
            among = f"held_{self.index}" if held is not None else ""
        bad = key_checks(self.engine, job.name, job.schema, plan, checked, references, out.checks, among)
        failing = bad.rows()
        held_rows = np.sort(held.column(SOURCE_ROW).to_numpy()) if held is not None else np.zeros(0, np.int64)
        staged_bad = failing[~among_sorted(failing, held_rows)]
        returned = held_rows[~among_sorted(held_rows, failing)]  # hash collisions: not duplicates after all
        if held is not None:
            self._quarantine_held(held, bad, out, qwriter, remap)
        if len(staged_bad) or len(rejects) or len(returned):
            self._rescan_bad(out, bad, staged_bad, qwriter, remap)
            extra = None
            if held_hub is not None and len(returned):
                extra = held_hub.filter(pc.is_in(held_hub.column(SOURCE_ROW), pa.array(returned, pa.int64())))
            self._rewrite(view, out, staged_bad, rejects.rows, extra)
        # rows written in pass 1, less those the key checks took out, plus held-back rows given back
        out.rows_accepted += len(returned) - len(staged_bad)

    def _read_every_row(self, reading: _Reading) -> tuple[StagedTable, QuarantineWriter, Rejects, int]:
        """Pass 1, with every row of the file accounted for (deposit/records.py): when the reader returned one
        row per physical line, nothing was rejected; otherwise the file is split into records here, read
        again from a sanitised copy when blank or oversized rows were found, and the rows the reader
        skipped are found by a scan that records them — unless there are 100,000 or more (refused), since
        DuckDB keeps every rejected row in memory (~1.4 KB each) until its scan ends, whatever its limit."""
        job, shape = reading.job, reading.shape
        limit = max_row_bytes(self.engine.settings.csv_buffer_size)
        scan: RecordScan | None = None
        try:
            out, qwriter, read, path = self._read(reading, scan)
        except NotATable:  # the reader may also fail outright on a row it cannot hold
            if not (scan := scan_records(job.path, shape.encoding, limit)).irregular:
                raise
            out, qwriter, read, path = self._read(reading, scan)
        if scan is None and read == shape.lines:  # one row per line: none skipped
            return out, qwriter, Rejects(path, np.zeros(0, dtype=np.int64)), read
        scan = scan or scan_records(job.path, shape.encoding, limit)
        if scan.cut:
            qwriter.discard()
            raise NotATable(job.path, "truncated in the middle of a row", f"row {scan.records}")
        if scan.records - read >= MAX_REJECTS:
            qwriter.discard()
            raise NotATable(job.path, f"{scan.records - read:,} of its {scan.records:,} rows cannot be split "
                                      f"into the schema's {len(shape.header)} columns (wrong delimiter, quoting "
                                      "or columns?)")
        if scan.irregular and path == job.path:
            qwriter.discard()
            out, qwriter, read, path = self._read(reading, scan)
        rejects = Rejects(path, np.zeros(0, dtype=np.int64))
        if read != scan.records:
            try:
                rejects = self._rejected(reading, read, path, scan)
            except NotATable:
                qwriter.discard()
                raise
        if read + len(rejects) != scan.records:
            qwriter.discard()
            raise NotATable(job.path, f"the CSV reader split it into {read + len(rejects):,} rows where it "
                                      f"holds {scan.records:,}")
        return out, qwriter, rejects, read

    def _read(self, reading: _Reading, scan: RecordScan | None) -> tuple[StagedTable, QuarantineWriter, int, Path]:
        """Pass 1 over the file — or, when ``scan`` found blank or oversized rows, over a copy in which each of
        them is a one-line marker the reader rejects (deposit/records.py): (the staged table, its quarantine
        writer, the number of rows the reader returned, the file it read). Rows it cannot split into the
        schema's columns are skipped here, not recorded (``_rejected`` finds them when there are any)."""
        job, shape = reading.job, reading.shape
        path = job.path
        if scan is not None and scan.irregular:
            # one cell too many (a line of delimiters alone would be read as a row of empty cells)
            marker = shape.delimiter.join(["?"] * (len(shape.header) + 1)).encode(shape.encoding)
            path = sanitised_copy(job.path, scan, self.engine.scratch / f"sanitised-{self.index}.csv", marker)
        src = f"src_{self.index}"
        self.engine.bind(src, self._csv(path, shape, store_rejects=False),
                         SourceBinding(src, "csv", str(job.path), {"delimiter": shape.delimiter,
                                                                   "encoding": shape.encoding}))
        out = StagedTable(job, shape)
        out.checks = [{"field": c.field, "rule": c.rule, "status": c.status} for c in reading.plan.checks]
        out.data_key = self.protection.new_file_key()
        out.ephemeral_public = reading.sealer.ephemeral_public
        out.data_file = reading.staging / f"{job.name}.parquet"
        qwriter = QuarantineWriter(reading.quarantine, job.name, self.protection, reading.sealer, shape.header,
                                   set(job.identifiers), job.source_label)
        try:
            read = self._pass1(job, reading.plan, out, qwriter)
        except EngineError as exc:
            qwriter.discard()
            raise NotATable(job.path, _engine_failure(exc, len(shape.header))) from None
        except BaseException:
            qwriter.discard()
            raise
        return out, qwriter, read, path

    def _csv(self, path: Path, shape: FileShape, store_rejects: bool) -> exp.Expression:
        # DuckDB's parallel CSV reader, met with a row over its buffer or a long run of rejected rows, drops
        # rows without a word (the rest of the file, past ~620k rejected rows); its serial reader rejects them
        # with their row — and the numbered scan runs on one thread anyway (rules.numbered)
        return csv_source(path, columns=list(shape.header), delimiter=shape.delimiter, encoding=shape.encoding,
                          buffer_size=self.engine.settings.csv_buffer_size, parallel=False,
                          store_rejects=store_rejects, ignore_errors=True, rejects_limit=MAX_REJECTS)

    def _rejected(self, reading: _Reading, read: int, path: Path, scan: RecordScan) -> Rejects:
        """The rows the reader skipped reading ``path``, by a scan that records them (with their line)."""
        job, shape = reading.job, reading.shape
        view = f"rej_{self.index}"
        self.engine.bind(view, self._csv(path, shape, store_rejects=True),
                         SourceBinding(view, "csv", str(job.path), {"delimiter": shape.delimiter,
                                                                    "encoding": shape.encoding}))
        try:
            self.engine.fetch_all(exp.select(exp.func("count", exp.Star())).from_(view),
                                  purpose=f"find the rows the reader skips in {job.name}")
        except EngineError as exc:
            raise NotATable(job.path, _engine_failure(exc, len(shape.header))) from None
        rejects = read_rejects(self.engine, job.name, shape, read, path)
        rejects.replaced = scan.irregular
        return rejects

    def _quarantine_held(self, held: pa.Table, bad: KeyFailures, out: StagedTable, qwriter: QuarantineWriter,
                         remap: Remap) -> None:
        """Held-back duplicates that are duplicates: quarantined with their typed cells written back as text."""
        numbers = held.column(SOURCE_ROW).to_numpy()
        picked = np.flatnonzero(among_sorted(numbers, bad.rows()))
        if not len(picked):
            return
        rules = bad.rules(numbers[picked])
        exact = remap(numbers[picked] - 1).tolist()
        texts = cells_as_text(held, out.shape.header, picked.tolist())
        for row, rule, cells in zip(exact, rules, texts, strict=True):
            qwriter.add(int(row), rule, cells)
            out.reasons.update({t.split(":", 1)[0] for t in rule.split(SEP)})

    def _bind_nomenclatures(self, plan: ValidationPlan, engine: Engine | None = None) -> None:
        engine = engine or self.engine
        for view, nom in plan.nomenclatures.items():
            source = csv_source(nom.path, columns=_nom_columns(nom.path), delimiter=";", encoding="utf-8",
                                store_rejects=False)
            code = exp.Trim(this=col(nom.code_column))
            sel = exp.select(exp.alias_(code, "code"),
                             exp.alias_(exp.TryCast(this=code, to=exp.DataType.build("DOUBLE")), "code_num")
                             ).from_(source).distinct()
            create = exp.Create(this=exp.to_table(view), kind="TABLE", replace=True,
                                properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=sel)
            engine.execute(create, purpose=f"load nomenclature {nom.name} {nom.version}", record=False)
            engine.bindings.append(SourceBinding(view, "nomenclature", nom.path.name,
                                                      {"name": nom.name, "version": nom.version,
                                                       "column": nom.code_column}))

    def _pass1(self, job: TableJob, plan: ValidationPlan, out: StagedTable, qwriter: QuarantineWriter) -> int:
        assert out.data_file is not None and out.data_key is not None
        data_file, data_key = out.data_file, out.data_key
        writer = BackgroundWriter(lambda schema: encrypted_file_writer(data_file, schema, data_key))
        read, numbers = 0, 0  # rows returned; the sum of their numbers (each of 1..read exactly once)
        self.duplicates = DuplicateFinder(len(plan.unique_keys)) if plan.unique_keys else None
        flagged = FlaggedRows()
        try:
            rows = max(2_048, min(ROW_GROUP_ROWS, BATCH_CELLS // max(len(plan.columns), 1)))
            for batch in self.engine.batches(plan.select, purpose=f"validate {job.name}", rows=rows):
                n = batch.num_rows
                ok = pc.invert(batch.column("__bad"))
                data = batch.drop_columns([c for c in batch.schema.names if c.startswith("__")])
                rows = batch.column(ORDINAL).cast(pa.int64())  # in whatever order the batches come
                numbers += int(pc.sum(rows).as_py() or 0)
                data = data.append_column(SOURCE_FILE, pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(n, dtype=np.int32)), pa.array([job.source_label])))
                data = data.append_column(SOURCE_ROW, rows)
                keep = ok
                if self.duplicates is not None:
                    candidates = self.duplicates.candidates(batch)
                    if candidates.any():
                        self.duplicates.hold(data.filter(pa.array(candidates)))
                        keep = pc.and_(ok, pa.array(~candidates))
                # the writer's thread filters the batch (a copy of every column) and puts the hub pseudonyms in
                writer.write(data, keep, self._hub_columns(job, data, keep))
                out.rows_accepted += int(pc.sum(keep).as_py() or 0)
                if not pc.all(ok).as_py():
                    flagged.add(pc.filter(rows, failing := pc.invert(ok)), pc.filter(batch.column("__raw"), failing))
                    if flagged.count >= FLAGGED_ROWS:  # bounded memory: their rules now, on a side connection
                        self._quarantine_flagged(job, plan, flagged, qwriter, out, self._side_engine(plan))
                read += n
                if read == n:
                    self.crash("first_batch")
            self._quarantine_flagged(job, plan, flagged, qwriter, out, self.engine)  # the stream is drained
        except BaseException:
            writer.abort()
            raise
        finally:
            if self._side is not None:
                self._side.close()
                self._side = None
        writer.close(lambda: self._empty_schema(job, plan))
        if numbers != read * (read + 1) // 2:
            raise Unavailable(f"engine: the rows of {job.name} were numbered inconsistently; nothing deposited")
        return read

    def _side_engine(self, plan: ValidationPlan) -> Engine:
        """A second connection, with the nomenclatures, for statements while the main query's result is open
        (DuckDB refuses a statement on a connection whose result is not drained)."""
        if self._side is None:
            self._side = Engine(self.engine.settings)
            self._bind_nomenclatures(plan, self._side)
        return self._side

    def _empty_schema(self, job: TableJob, plan: ValidationPlan) -> pa.Schema:
        # WHERE false is folded into an empty result; a LIMIT 0 would read the file for a first row to skip —
        # all of it when no row passes
        limited = exp.select("*").from_(exp.alias_(exp.paren(plan.select.copy()), "q")).where(exp.false())
        schema = self.engine.arrow_table(limited, purpose=f"schema of {job.name}").schema
        schema = pa.schema([f for f in schema if not f.name.startswith("__")])
        return schema.append(pa.field(SOURCE_FILE, pa.dictionary(pa.int32(), pa.string()))).append(
            pa.field(SOURCE_ROW, pa.int64()))

    def _pseudonymise(self, job: TableJob, table: Any) -> Any:
        for i, name, hub_ids in self._hub_columns(job, table):
            table = table.set_column(i, name, hub_ids)
        return table

    def _hub_columns(self, job: TableJob, table: Any, keep: pa.Array | None = None) -> list[Replacement]:
        """(index, name, hub pseudonyms) of each level-1 identifier column of ``table``'s rows (``keep``'s)."""
        out: list[Replacement] = []
        for name, role in job.identifiers.items():
            if role.state == "level1" and role.kind in ("psa", "ano"):
                i = table.schema.get_field_index(name)
                values = table.column(i) if keep is None else table.column(i).filter(keep)
                out.append((i, name, self.protection.to_hub_pseudonyms(values, role.kind, f"deposit:{job.dataset}")))
        return out

    def _quarantine_flagged(self, job: TableJob, plan: ValidationPlan, flagged: FlaggedRows,
                            qwriter: QuarantineWriter, out: StagedTable, engine: Engine) -> None:
        """The rule tokens of the rows pass 1 flagged, by one statement over those rows; then quarantine them."""
        if not flagged.count or plan.violations is None:
            return
        nums, raw = flagged.take()
        n, width = len(nums), len(plan.columns)
        cells = raw.flatten()  # every flagged row holds one cell per column of the file, in the file's order
        table = pa.table({**{h: cells.take(pa.array(np.arange(j, n * width, width, dtype=np.int64)))
                             for j, h in enumerate(plan.columns)}, SOURCE_ROW: nums})
        engine.con.register(plan.flagged_view, table)
        try:
            found = dict(engine.execute(plan.violations, purpose=f"rules failed by flagged rows of {job.name}",
                                        record=not self._violations_recorded).fetchall())
        finally:
            engine.con.unregister(plan.flagged_view)
        if engine is not self.engine:  # the lineage keeps every statement of the deposit
            self.engine.recorded.extend(engine.recorded)
            engine.recorded.clear()
        self._violations_recorded = True
        for start in range(0, n, 5_000):  # as Python objects a slice at a time (memory)
            piece = slice(start, start + 5_000)
            for row, row_cells in zip(nums[piece].to_pylist(), raw[piece].to_pylist(), strict=True):
                rules = SEP.join(t for t in (found.get(row) or "structure:unknown").split(SEP) if t)
                qwriter.add(row, rules, row_cells)
                out.reasons.update({t.split(":", 1)[0] for t in rules.split(SEP)})

    def _rescan_bad(self, out: StagedTable, bad: KeyFailures, rows: np.ndarray, qwriter: QuarantineWriter,
                    remap: Remap) -> None:
        """Quarantine staged ``rows`` that failed a key check, with their cells as delivered: re-read from the
        file, each found by its number as pass 1 gave it (the same numbering over the same scan)."""
        if not len(rows):
            return
        shape = out.shape
        wanted = f"wanted_{self.index}"
        self.engine.con.register(wanted, pa.table({"r": pa.array(rows, pa.int64())}))
        try:
            src = exp.alias_(exp.paren(numbered(f"src_{self.index}")), "t")
            select = (exp.select(*[col(h, "t") for h in shape.header], col(ORDINAL, "t")).from_(src)
                      .where(col(ORDINAL, "t").isin(query=exp.select("r").from_(wanted))))
            purpose = f"re-read rows failing key checks in {out.job.name}"
            for batch in self.engine.batches(select, purpose=purpose, rows=QUARANTINE_SLICE):
                numbers = batch.column(ORDINAL).to_numpy().astype(np.int64)
                cells = [batch.column(i).to_pylist() for i in range(len(shape.header))]
                for k, (row, rule) in enumerate(zip(remap(numbers - 1).tolist(), bad.rules(numbers), strict=True)):
                    qwriter.add(int(row), rule, [c[k] for c in cells])
                    out.reasons.update({t.split(":", 1)[0] for t in rule.split(SEP)})
        finally:
            self.engine.con.unregister(wanted)

    def _rewrite(self, view: str, out: StagedTable, drop: np.ndarray, malformed: np.ndarray,
                 extra: pa.Table | None = None) -> None:
        """Write the staged file again without the rows ``drop`` (sorted), plus ``extra``, with exact row
        numbers — a row group at a time, in bounded memory."""
        assert out.data_file is not None and out.data_key is not None
        remap = _remapper(malformed)
        tmp = out.data_file.with_suffix(".rewrite.parquet")
        new_key = self.protection.new_file_key()
        staged = pq.ParquetFile(out.data_file, decryption_properties=decryption(out.data_key))
        schema = staged.schema_arrow
        writer = encrypted_file_writer(tmp, schema, new_key)
        try:
            pieces = staged.iter_batches(batch_size=ROW_GROUP_ROWS)
            if extra is not None and extra.num_rows:
                pieces = itertools.chain(pieces, extra.cast(schema).to_batches(ROW_GROUP_ROWS))
            for batch in pieces:
                if len(drop):
                    kept = ~among_sorted(batch.column(SOURCE_ROW).to_numpy(), drop)
                    batch = batch.filter(pa.array(kept))
                writer.write_batch(renumbered(batch, remap))
        finally:
            writer.close()
            staged.close()
        tmp.replace(out.data_file)
        out.data_key = new_key
        self.engine.add_parquet_key(new_key.engine_name, new_key.key)
        self.engine.bind(view, parquet_source([out.data_file], new_key.engine_name),
                         SourceBinding(view, "parquet", out.data_file.name, {"key_id": new_key.key_id}))


@dataclass(frozen=True)
class _Reading:
    """What every attempt at pass 1 over one table shares."""

    job: TableJob
    shape: FileShape
    staging: Path
    quarantine: Path
    sealer: Sealer
    plan: ValidationPlan


def _engine_failure(exc: EngineError, columns: int) -> str:
    """Why pass 1 failed, in the producer's words (the engine's own message is not for them)."""
    if exc.kind == "OutOfMemoryException":
        return f"too wide or too large to validate within the deposit's memory ({columns:,} columns)"
    return "the CSV reader cannot split it into rows"


def _remapper(malformed: np.ndarray) -> Remap:
    """Ordinals among readable rows (0-based) -> their data-row numbers in the file (``malformed``: the
    sorted numbers of the rows the reader rejected)."""
    shifts = np.array([r - i for i, r in enumerate(malformed, start=1)], dtype=np.int64)

    def remap(ordinals: np.ndarray) -> np.ndarray:
        return ordinals + 1 + np.searchsorted(shifts, ordinals, side="right")

    return remap


def _nom_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        first = f.readline().strip().lstrip("\ufeff")
    return [c.strip().strip('"') for c in first.split(";")]
