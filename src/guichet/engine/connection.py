"""DuckDB connections as the hub allows them: only the extensions inside the wheel, nothing installed or
loaded automatically, spill files on a per-process tmpfs when there is one (never in the clear on disk)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

SHM = Path("/dev/shm")  # noqa: S108 - a RAM-backed tmpfs: spilled data never reaches a disk


@dataclass(frozen=True)
class EngineSettings:
    threads: int | None = None
    memory_limit: str = "1GB"
    timeout_seconds: float = 6 * 3600.0


def spill_directory() -> Path:
    """A private folder for DuckDB's spill files: on /dev/shm when present, else the system temp."""
    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix=f"guichet-{os.getpid()}-", dir=base))


def connect(settings: EngineSettings, spill: Path) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int] = {
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
    return con


def remove_spill(spill: Path) -> None:
    shutil.rmtree(spill, ignore_errors=True)
