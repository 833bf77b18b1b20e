"""The JSON-lines mirror of the audit log under ``<home>/audit/``.

One mechanism writes it: after every commit, and in ``guichet doctor``, the events the file lacks are
appended from the database under a file lock, in ``seq`` order. Existing lines are never rewritten; a torn
last line (a crash mid-write) is completed only if it is a true prefix of the line it should be.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from guichet.audit.chain import mirror_line
from guichet.audit.log import read_events, row_fields
from guichet.store.db import Store

MIRROR_NAME = "events.jsonl"


@dataclass(frozen=True)
class MirrorSync:
    appended: int
    completed_torn_line: bool
    problem: str | None = None


def mirror_path(audit_dir: Path) -> Path:
    return audit_dir / MIRROR_NAME


def _tail(path: Path) -> tuple[int, bytes]:
    """(seq of the last complete line, bytes of a torn last line or b'')."""
    if not path.exists() or path.stat().st_size == 0:
        return 0, b""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        chunk = 1 << 16
        start = max(0, size - chunk)
        while True:
            fh.seek(start)
            data = fh.read(size - start)
            body, _, torn = data.rpartition(b"\n")
            lines = body.split(b"\n")
            complete = [ln for ln in lines if ln.strip()] if (start == 0 or len(lines) > 1) else []
            if complete or start == 0:
                break
            start = max(0, start - chunk)
    if not complete:
        return 0, torn
    try:
        return int(json.loads(complete[-1])["seq"]), torn
    except (ValueError, KeyError, TypeError):
        return -1, torn


def complete_mirror(store: Store, audit_dir: Path) -> MirrorSync:
    """Append to the mirror every event it lacks. Never rewrites an existing line."""
    path = mirror_path(audit_dir)
    audit_dir.mkdir(parents=True, exist_ok=True)
    lock_path = audit_dir / ".mirror.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        last_seq, torn = _tail(path)
        if last_seq < 0:
            return MirrorSync(0, False, f"{path}: last line is not an audit event; not touched")
        appended, completed = 0, False
        with store.read() as session:
            events = read_events(session, after_seq=last_seq)
            with path.open("ab") as out:
                for row in events:
                    line = mirror_line(row_fields(row), row.prev_hash, row.hash).encode("utf-8")
                    if torn:
                        if not line.startswith(torn):
                            problem = f"{path}: torn last line does not match event {row.seq}; not touched"
                            return MirrorSync(appended, False, problem)
                        out.write(line[len(torn) :])
                        torn, completed = b"", True
                    else:
                        out.write(line)
                    appended += 1
                out.flush()
                os.fsync(out.fileno())
        if torn:
            return MirrorSync(appended, False, f"{path}: torn last line matches no event in the database")
        return MirrorSync(appended, completed)
