"""DuckDB connections as the hub allows them: only the extensions inside the wheel, nothing installed or
loaded automatically, spill files on a per-process tmpfs when there is one (never in the clear on disk)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

# DuckDB 2.0.1 misreads PyArrow-encrypted Parquet ("Computed AES tag differs from read AES tag") when it
# reads a column chunk selectively: a filter pushed into the scan, a join's dynamic filter (a foreign-key
# check), a top-N, statistics-based pruning. Every engine connection turns these optimisers off, so that
# no query over the lake depends on knowing it; results are unchanged, only where filtering happens
# (tests/spec/test_encrypted_parquet_pages.py reproduces it).
LAKE_SAFE_OPTIMIZERS = "filter_pushdown,top_n,join_filter_pushdown,statistics_propagation"
SHM = Path("/dev/shm")  # noqa: S108 - a RAM-backed tmpfs: spilled data never reaches a disk


@dataclass(frozen=True)
class EngineSettings:
    threads: int | None = None
    memory_limit: str = "1GB"
    timeout_seconds: float = 6 * 3600.0
    # read_csv's buffer (DuckDB's default when None): a small one splits even a small file across threads,
    # which is how tests reach the parallel scans of large files
    csv_buffer_size: int | None = None


SPILL_PREFIX = "guichet-"
_SPILL_NAME = re.compile(r"^guichet-(\d+)-[A-Za-z0-9_]+$")


def _spill_base() -> Path:
    return SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else Path(tempfile.gettempdir())


def spill_directory() -> Path:
    """A private folder for DuckDB's spill files: on /dev/shm when present, else the system temp.

    Folders left by a process that died without cleaning up (kill -9) are removed first."""
    base = _spill_base()
    remove_stale_spills(base)
    return Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-", dir=base))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale_spills(base: Path | None = None) -> int:
    """Remove this user's spill folders whose process is gone; returns how many were removed."""
    base = base or _spill_base()
    removed = 0
    try:
        entries = list(base.iterdir())
    except OSError:
        return 0
    for entry in entries:
        found = _SPILL_NAME.match(entry.name)
        if not found or int(found.group(1)) == os.getpid() or _alive(int(found.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def connect(settings: EngineSettings, spill: Path) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "memory_limit": settings.memory_limit,
        "temp_directory": str(spill),
        "preserve_insertion_order": True,  # row numbers follow the file's order
    }
    if settings.threads:
        config["threads"] = settings.threads
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # stdout carries only the JSON answer
    con.execute(f"SET disabled_optimizers = '{LAKE_SAFE_OPTIMIZERS}'")
    return con


def remove_spill(spill: Path) -> None:
    shutil.rmtree(spill, ignore_errors=True)
