"""One table's deposit, up to encrypted staging: validate, quarantine, pseudonymise, write.

Pass 1 streams the CSV through DuckDB once: typed columns, each row's violations and, for failing rows
only, the raw cells. Accepted rows go to an encrypted Parquet file (with their source file and 1-based
row number), failing rows to an encrypted quarantine file (identifier and quasi-identifier cells sealed to
the producer). Rows DuckDB's reader rejects as malformed come back from its reject table by row number.
Pass 2 checks keys over the staged file (primary key, ``unique``, foreign keys within the delivery or
against published versions); only when it finds something (or malformed rows shifted the numbering) is
the staged file rewritten.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from sqlglot import exp

from guichet.custodian.parquet import encrypted_writer
from guichet.deposit.duplicates import DuplicateFinder, cells_as_text
from guichet.deposit.protection import FileKey, Protection
from guichet.deposit.records import RecordScan, max_row_bytes, sanitised_copy, scan_records
from guichet.deposit.rules import ORDINAL, SEP, IdentifierRole, ValidationPlan, build_plan, col, numbered
from guichet.deposit.sealing import Sealer
from guichet.deposit.structure import FileShape, NotATable, inspect_file
from guichet.deposit.writer import BackgroundWriter, Replacement
from guichet.engine import Engine, EngineError, SourceBinding, csv_source, literal, parquet_source
from guichet.errors import Unavailable
from guichet.schema import TableSchema

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
ROW_GROUP_ROWS = 122_880  # rows per batch when a staged or quarantine file is rewritten (its writer's row groups)
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
class Reference:
    """Where a foreign key's target rows are: a staged table of the same delivery or a published version."""

    view: str
    columns: tuple[str, ...]


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


# Every encrypted file goes through the custodian's shared writer: it writes one data page per column chunk,
# the only layout DuckDB 2.0.1 can decrypt (docs/deposit.md, "Encrypted Parquet and DuckDB 2.0.1").
def _encrypted_writer(path: Path, schema: pa.Schema, key: FileKey) -> pq.ParquetWriter:
    return encrypted_writer(path, schema, key.key)


def _decryption(key: FileKey) -> Any:
    return pe.create_decryption_properties(footer_key=key.key)


QUARANTINE_SCHEMA = pa.schema([
    (SOURCE_FILE, pa.string()),
    (SOURCE_ROW, pa.int64()),
    ("rules", pa.string()),  # rule:FIELD|rule:FIELD — never a value
    ("cells", pa.string()),  # JSON of the row's other cells, as delivered
    ("sealed", pa.binary()),  # identifier and quasi-identifier cells, sealed to the producer
])


class QuarantineWriter:
    """Writes a table's quarantine as encrypted Parquet parts (each with its own data key)."""

    def __init__(self, folder: Path, stem: str, protection: Protection, sealer: Sealer, header: tuple[str, ...],
                 protected: set[str], label: str) -> None:
        self.folder, self.stem, self.protection = folder, stem, protection
        self.sealer, self.header, self.label = sealer, header, label
        self.protected_idx = [i for i, h in enumerate(header) if h in protected]
        self.open_idx = [i for i, h in enumerate(header) if h not in protected]
        self.parts: list[tuple[Path, FileKey]] = []
        self.rows: dict[str, list[Any]] = {n: [] for n in QUARANTINE_SCHEMA.names}
        self.count = 0
        self._serial = 0
        self._open_part()

    def _open_part(self) -> None:
        key = self.protection.new_file_key("quarantine")
        path = self.folder / f"{self.stem}.quarantine-{self._serial}.parquet"
        self._serial += 1
        self.parts.append((path, key))
        self.writer = _encrypted_writer(path, QUARANTINE_SCHEMA, key)

    def add(self, row: int, rules: str, cells: list[str | None] | None, whole_line: str | None = None) -> None:
        if cells is not None:
            secret = {self.header[i]: cells[i] for i in self.protected_idx}
            shown = {self.header[i]: cells[i] for i in self.open_idx}
        else:  # a malformed row: the whole line is sealed, nothing is shown
            secret, shown = {"line": whole_line}, {}
        self.rows[SOURCE_FILE].append(self.label)
        self.rows[SOURCE_ROW].append(row)
        self.rows["rules"].append(rules)
        self.rows["cells"].append(json.dumps(shown, ensure_ascii=False))
        self.rows["sealed"].append(self.sealer.seal(json.dumps(secret, ensure_ascii=False).encode()))
        self.count += 1
        if len(self.rows[SOURCE_ROW]) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if self.rows[SOURCE_ROW]:
            self.writer.write_table(pa.table(self.rows, schema=QUARANTINE_SCHEMA))
            self.rows = {n: [] for n in QUARANTINE_SCHEMA.names}

    def renumber_current(self, remap: Callable[[np.ndarray], np.ndarray]) -> None:
        """Rows written so far carry provisional numbers: rewrite them exactly (a row group at a time), then go
        on in a new part."""
        self.flush()
        self.writer.close()
        path, key = self.parts.pop()
        self._open_part()
        old = pq.ParquetFile(path, decryption_properties=_decryption(key))
        try:
            for batch in old.iter_batches(batch_size=ROW_GROUP_ROWS):
                exact = pa.array(remap(batch.column(SOURCE_ROW).to_numpy() - 1), pa.int64())
                self.writer.write_batch(batch.set_column(batch.schema.get_field_index(SOURCE_ROW), SOURCE_ROW, exact))
        finally:
            old.close()
        path.unlink()

    def close(self) -> None:
        self.flush()
        self.writer.close()


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

    def stage(self, job: TableJob, shape: FileShape, staging: Path, quarantine: Path, producer_pem: str,
              references: dict[str, Reference]) -> StagedTable:
        check_header(job, shape)
        src = f"src_{self.index}"
        plan = build_plan(job.schema, src, shape.header, job.identifiers)
        self._bind_nomenclatures(plan)
        out, qwriter, malformed, read = self._read_every_row(
            _Reading(job, shape, staging, quarantine, Sealer(producer_pem), plan))
        rows_in = read + len(malformed)
        remap = _remapper(sorted(malformed))
        if malformed:
            qwriter.renumber_current(remap)
        for row, (rule, line) in sorted(malformed.items()):
            qwriter.add(row, rule, None, line)
            out.reasons[rule.split(":", 1)[0]] += 1
        qwriter.flush()
        assert out.data_key is not None and out.data_file is not None
        self.crash("pass1_done")
        self.engine.add_parquet_key(out.data_key.engine_name, out.data_key.key)
        view = f"stg_{self.index}"
        self.engine.bind(view, parquet_source([out.data_file], out.data_key.engine_name),
                         SourceBinding(view, "parquet", out.data_file.name, {"key_id": out.data_key.key_id}))
        held = self.duplicates.held_table() if self.duplicates else None
        checked = view
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
        bad = self._key_checks(job, plan, checked, references, out, among)
        held_rows = set(held.column(SOURCE_ROW).to_pylist()) if held is not None else set()
        staged_bad = {r: v for r, v in bad.items() if r not in held_rows}
        returned = held_rows - set(bad)  # hash collisions: not duplicates after all, back to the lake
        if held is not None:
            self._quarantine_held(held, bad, shape, qwriter, remap, out)
        if staged_bad or malformed or returned:
            self._rescan_bad(job, shape, plan, staged_bad, qwriter, remap, out)
            extra = None
            if returned:
                keep = pc.is_in(held_hub.column(SOURCE_ROW), pa.array(sorted(returned), pa.int64()))
                extra = held_hub.filter(keep)
            self._rewrite(view, out, set(staged_bad), malformed, extra)
        qwriter.close()
        out.quarantine_parts = qwriter.parts
        out.rows_in = rows_in
        out.rows_quarantined = qwriter.count
        # rows written in pass 1, less those the key checks took out, plus held-back rows given back
        out.rows_accepted += len(returned) - len(staged_bad)
        out.view = view
        return out

    def _read_every_row(self, reading: _Reading) -> tuple[StagedTable, QuarantineWriter,
                                                          dict[int, tuple[str, str]], int]:
        """Pass 1, with every row of the file accounted for (deposit/records.py): the reader's rows and rejects
        must add up to the file's lines, or else to its records as split here — after a second pass over a
        sanitised copy when blank or oversized rows were found; otherwise the file is not a table."""
        job, shape = reading.job, reading.shape
        limit = max_row_bytes(self.engine.settings.csv_buffer_size)
        scan = scan_records(job.path, shape.encoding, limit) if shape.long_line else None
        try:
            out, qwriter, malformed, read = self._read(reading, scan)
        except NotATable:  # the reader may also fail outright on a row it cannot hold
            if scan is not None or not (scan := scan_records(job.path, shape.encoding, limit)).irregular:
                raise
            out, qwriter, malformed, read = self._read(reading, scan)
        if scan is None and read + len(malformed) != shape.lines:  # blank, lost or multi-line rows
            scan = scan_records(job.path, shape.encoding, limit)
            if scan.irregular or scan.records != read + len(malformed):
                self._discard(out, qwriter)
                out, qwriter, malformed, read = self._read(reading, scan)
        expected = scan.records if scan is not None else shape.lines
        if read + len(malformed) != expected:
            self._discard(out, qwriter)
            raise NotATable(job.path, f"the CSV reader split it into {read + len(malformed):,} rows where it "
                                      f"holds {expected:,}")
        return out, qwriter, malformed, read

    def _read(self, reading: _Reading, scan: RecordScan | None) -> tuple[StagedTable, QuarantineWriter,
                                                                         dict[int, tuple[str, str]], int]:
        """Pass 1 over the file — or, when ``scan`` found blank or oversized rows, over a copy in which each of
        them is a one-line marker the reader rejects (deposit/records.py): (the staged table, its quarantine
        writer, the rows the reader rejected, the rows it returned)."""
        job, shape = reading.job, reading.shape
        path = job.path
        if scan is not None and scan.irregular:
            # one cell too many (a line of delimiters alone would be read as a row of empty cells)
            marker = shape.delimiter.join(["?"] * (len(shape.header) + 1)).encode(shape.encoding)
            path = sanitised_copy(job.path, scan, self.engine.scratch / f"sanitised-{self.index}.csv", marker)
        src = f"src_{self.index}"
        self.engine.bind(src, csv_source(path, columns=list(shape.header), delimiter=shape.delimiter,
                                         encoding=shape.encoding, buffer_size=self.engine.settings.csv_buffer_size),
                         SourceBinding(src, "csv", str(job.path), {"delimiter": shape.delimiter,
                                                                   "encoding": shape.encoding}))
        out = StagedTable(job, shape)
        out.checks = [{"field": c.field, "rule": c.rule, "status": c.status} for c in reading.plan.checks]
        out.data_key = self.protection.new_file_key()
        out.ephemeral_public = reading.sealer.ephemeral_public
        out.data_file = reading.staging / f"{job.dataset}.parquet"
        qwriter = QuarantineWriter(reading.quarantine, job.dataset, self.protection, reading.sealer, shape.header,
                                   set(job.identifiers), job.source_label)
        try:
            read = self._pass1(job, reading.plan, out, qwriter)
            malformed = self._malformed_rows(job, shape, read, path)
        except EngineError as exc:
            qwriter.close()
            raise NotATable(job.path, _engine_failure(exc, len(shape.header))) from None
        except BaseException:
            qwriter.close()
            raise
        if scan is not None:
            malformed.update({row: why for row, why in scan.irregular.items() if row in malformed})
        return out, qwriter, malformed, read

    @staticmethod
    def _discard(out: StagedTable, qwriter: QuarantineWriter) -> None:
        qwriter.close()
        for path, _key in qwriter.parts:
            path.unlink(missing_ok=True)
        if out.data_file is not None:
            out.data_file.unlink(missing_ok=True)

    def _quarantine_held(self, held: pa.Table, bad: dict[int, str], shape: FileShape, qwriter: QuarantineWriter,
                         remap: Callable[[np.ndarray], np.ndarray], out: StagedTable) -> None:
        """Held-back duplicates: quarantined with their typed cells written back as text."""
        picked = [(i, r) for i, r in enumerate(held.column(SOURCE_ROW).to_pylist()) if r in bad]
        if not picked:
            return
        exact = remap(np.array([r - 1 for _, r in picked], dtype=np.int64)).tolist()
        texts = cells_as_text(held, shape.header, [i for i, _ in picked])
        for (_, r), row, cells in zip(picked, exact, texts, strict=True):
            qwriter.add(int(row), bad[r], cells)
            out.reasons.update({t.split(":", 1)[0] for t in bad[r].split(SEP)})

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
        writer = BackgroundWriter(lambda schema: _encrypted_writer(data_file, schema, data_key))
        read, numbers = 0, 0  # rows returned; the sum of their numbers (each of 1..read exactly once)
        self.duplicates = DuplicateFinder(len(plan.unique_keys)) if plan.unique_keys else None
        flagged = FlaggedRows()
        try:
            for batch in self.engine.batches(plan.select, purpose=f"validate {job.name}"):
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
        limited = plan.select.copy().limit(0)
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

    def _malformed_rows(self, job: TableJob, shape: FileShape, passed: int,
                        path: Path) -> dict[int, tuple[str, str]]:
        """Rows DuckDB's reader could not split into the schema's columns (reading ``path``): {row: (rule,
        raw line)}."""
        e, s = exp.to_table("reject_errors", alias="e"), exp.to_table("reject_scans", alias="s")
        q = (exp.select(exp.column("line", "e"), exp.column("error_type", "e"), exp.column("csv_line", "e"))
             .from_(e).join(s, on=exp.and_(exp.column("scan_id", "e").eq(exp.column("scan_id", "s")),
                                           exp.column("file_id", "e").eq(exp.column("file_id", "s"))))
             .where(exp.column("file_path", "s").eq(literal(str(path)))))
        found: dict[int, tuple[str, str]] = {}
        for line, kind, text in self.engine.fetch_all(q, purpose=f"malformed rows of {job.name}"):
            row = int(line) - 1
            if row not in found:
                found[row] = (f"structure:{str(kind).lower().replace(' ', '_')}", text or "")
        if found:
            last = passed + len(found)
            kinds = {k for k, _ in found.values()}
            # The last row is cut when the file ends mid-row or inside a quoted field (odd quote count).
            if last in found and (not shape.ends_with_newline or found[last][1].count('"') % 2 == 1):
                raise NotATable(job.path, "truncated in the middle of a row", f"row {last}")
            if any(k.startswith("structure:invalid_encoding") for k in kinds):
                raise NotATable(job.path, f"undecodable as {shape.encoding}", f"row {min(found)}")
        return found

    def _key_checks(self, job: TableJob, plan: ValidationPlan, view: str, references: dict[str, Reference],
                    out: StagedTable, among: str | None = None) -> dict[int, str]:
        """Rows failing a key check: {row: 'rule:FIELD|...'}. ``among``: the view of the held-back duplicate
        candidates, when every duplicate is known to be among them ('' when there are none): the uniqueness
        checks then rank only the rows whose key one of them holds."""
        bad: dict[int, list[str]] = {}
        row = col(SOURCE_ROW)
        for rule, keys in plan.unique_keys:
            out.checks.append({"field": "+".join(keys), "rule": rule, "status": "applied"})
            if among == "":
                continue  # no two accepted rows share a key hash: no duplicate
            s = exp.to_table(view, alias="s")
            not_null = exp.and_(*[col(k, "s").is_(exp.null()).not_() for k in keys])
            if among:
                same = exp.and_(*[col(k, "h").eq(col(k, "s")) for k in keys])
                not_null = exp.and_(not_null, exp.Exists(
                    this=exp.select(literal(1)).from_(exp.to_table(among, alias="h")).where(same)))
            rank = exp.Window(this=exp.RowNumber(), partition_by=[col(k, "s") for k in keys], order=exp.Order(
                expressions=[exp.Ordered(this=col(SOURCE_ROW, "s"))]))
            inner = exp.select(exp.alias_(col(SOURCE_ROW, "s"), SOURCE_ROW, quoted=True),
                               exp.alias_(rank, "__rank")).from_(s).where(not_null)
            q = exp.select(row).from_(exp.alias_(exp.paren(inner), "u")).where(exp.column("__rank") > literal(1))
            for (r,) in self.engine.fetch_all(q, purpose=f"{rule} of {job.name} ({', '.join(keys)})"):
                bad.setdefault(int(r), []).append(f"{rule}:{'+'.join(keys)}")
        for fk in job.schema.foreign_keys:
            ref = references.get(fk.resource)
            label = "+".join(fk.fields)
            if ref is None or not set(fk.ref_fields) <= set(ref.columns):
                from guichet.deposit.rules import resolve_ref

                if len(fk.fields) == 1 and resolve_ref(fk.resource, fk.ref_fields[0]) is not None:
                    continue  # a nomenclature written as a foreign key: checked in pass 1
                out.checks.append({"field": label, "rule": "foreign_key",
                                   "status": f"not applicable: {fk.resource} is neither in the delivery nor published"})
                continue
            cond = exp.and_(*[exp.cast(col(a, "r"), "VARCHAR").eq(exp.cast(col(b, "s"), "VARCHAR"))
                              for a, b in zip(fk.ref_fields, fk.fields, strict=True)])
            exists = exp.Exists(this=exp.select(literal(1)).from_(exp.alias_(exp.to_table(ref.view), "r")).where(cond))
            q = (exp.select(col(SOURCE_ROW, "s")).from_(exp.alias_(exp.to_table(view), "s"))
                 .where(exp.and_(*[col(k, "s").is_(exp.null()).not_() for k in fk.fields], exp.not_(exists))))
            for (r,) in self.engine.fetch_all(q, purpose=f"foreign key {label} of {job.name} -> {fk.resource}"):
                bad.setdefault(int(r), []).append(f"foreign_key:{label}")
            out.checks.append({"field": label, "rule": "foreign_key", "status": "applied"})
        return {r: SEP.join(v) for r, v in bad.items()}

    def _rescan_bad(self, job: TableJob, shape: FileShape, plan: ValidationPlan, bad: dict[int, str],
                    qwriter: QuarantineWriter, remap: Callable[[np.ndarray], np.ndarray], out: StagedTable) -> None:
        """Quarantine rows that failed a key check, with their cells as delivered (re-read from the file, each
        row found by its number as pass 1 gave it: the same numbering over the same scan)."""
        if not bad:
            return
        wanted = f"wanted_{self.index}"
        self.engine.con.register(wanted, pa.table({"r": pa.array(sorted(bad), pa.int64())}))
        try:
            rows = exp.alias_(exp.paren(numbered(f"src_{self.index}")), "t")
            select = (exp.select(*[col(h, "t") for h in shape.header], col(ORDINAL, "t")).from_(rows)
                      .where(col(ORDINAL, "t").isin(query=exp.select("r").from_(wanted))))
            for batch in self.engine.batches(select, purpose=f"re-read rows failing key checks in {job.name}"):
                numbers = batch.column(ORDINAL).to_pylist()
                cells = [batch.column(i).to_pylist() for i in range(len(shape.header))]
                exact = remap(np.array(numbers, dtype=np.int64) - 1).tolist()
                for k, (r, row) in enumerate(zip(numbers, exact, strict=True)):
                    qwriter.add(int(row), bad[r], [c[k] for c in cells])
                    out.reasons.update({t.split(":", 1)[0] for t in bad[r].split(SEP)})
        finally:
            self.engine.con.unregister(wanted)

    def _rewrite(self, view: str, out: StagedTable, bad: set[int], malformed: dict[int, tuple[str, str]],
                 extra: pa.Table | None = None) -> None:
        """Write the staged file again without the rows that failed key checks (plus ``extra``), with exact row
        numbers — batch by batch, in bounded memory (the staged file's row groups are ~123k rows)."""
        assert out.data_file is not None and out.data_key is not None
        remap = _remapper(sorted(malformed))
        drop = np.array(sorted(bad), dtype=np.int64)
        tmp = out.data_file.with_suffix(".rewrite.parquet")
        new_key = self.protection.new_file_key()
        staged = pq.ParquetFile(out.data_file, decryption_properties=_decryption(out.data_key))
        schema = staged.schema_arrow
        writer = _encrypted_writer(tmp, schema, new_key)
        try:
            pieces = staged.iter_batches(batch_size=ROW_GROUP_ROWS)
            if extra is not None and extra.num_rows:
                pieces = itertools.chain(pieces, extra.cast(schema).to_batches(ROW_GROUP_ROWS))
            for batch in pieces:
                rows = batch.column(SOURCE_ROW).to_numpy()
                if len(drop):
                    kept = ~np.isin(rows, drop)
                    batch, rows = batch.filter(pa.array(kept)), rows[kept]
                exact = pa.array(remap(rows - 1), pa.int64())
                writer.write_batch(batch.set_column(batch.schema.get_field_index(SOURCE_ROW), SOURCE_ROW, exact))
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


def _remapper(malformed: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Ordinals among readable rows (0-based) -> their data-row numbers in the file."""
    shifts = np.array([r - i for i, r in enumerate(malformed, start=1)], dtype=np.int64)

    def remap(ordinals: np.ndarray) -> np.ndarray:
        return ordinals + 1 + np.searchsorted(shifts, ordinals, side="right")

    return remap


def _nom_columns(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        first = f.readline().strip().lstrip("\ufeff")
    return [c.strip().strip('"') for c in first.split(";")]
