"""Writing accepted rows on a second thread, while DuckDB validates the next batch.

DuckDB's streaming result computes a batch only when it is asked for the next one, so a loop that writes
each batch before asking for the next leaves the engine idle while PyArrow compresses and encrypts. Both
release the GIL; with a bounded queue (two batches: memory stays bounded) the writing overlaps the next
batch's validation. Filtering out the rejected rows (a copy of every column) is done here too. The first error
on the writing side is raised on the caller's side.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_DONE = object()
Replacement = tuple[int, str, pa.Array]  # (column index, name, the column's values for the kept rows)


class BackgroundWriter:
    def __init__(self, open_writer: Callable[[pa.Schema], pq.ParquetWriter], depth: int = 2) -> None:
        self._open = open_writer
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._writer: pq.ParquetWriter | None = None
        self._thread = threading.Thread(target=self._run, name="deposit-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None:
                continue  # drain: the caller learns of the error at its next put or at close
            try:
                batch, keep, replace = item
                if keep is not None:
                    batch = batch.filter(keep)
                for i, name, values in replace:
                    batch = batch.set_column(i, name, values)
                if self._writer is None:
                    self._writer = self._open(batch.schema)
                if batch.num_rows:
                    self._writer.write_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc

    def write(self, batch: pa.RecordBatch, keep: pa.Array | None = None, replace: list[Replacement] | None = None) -> None:
        """Write ``batch``'s rows where ``keep`` holds (all when None), columns replaced as ``replace`` says."""
        if self._error is not None:
            raise self._error
        self._queue.put((batch, keep, replace or []))

    def close(self, empty_schema: Callable[[], pa.Schema]) -> None:
        """Wait for every batch to be written and close the file (with ``empty_schema()`` if none came)."""
        self._queue.put(_DONE)
        self._thread.join()
        try:
            if self._error is None and self._writer is None:
                self._writer = self._open(empty_schema())
        finally:
            if self._writer is not None:
                self._writer.close()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if self._writer is not None:
            self._writer.close()
