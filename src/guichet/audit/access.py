"""The access log: one line per authenticated request (web pages and API), kept at least a year (EHDS
Art 73). A line says who, when, how (session or token), the method, the route *template*
(``/api/applications/{app_id}``, never the path with its values) and the status; never a query string,
a body or a path value, which could carry an identifier.

Files: ``<home>/logs/access/access-YYYY-MM-DD.jsonl`` (UTC day), appended with ``O_APPEND`` (each line one
write, so several workers share a file safely), 0600. ``prune`` removes files older than the retention:
property ``access_log_retention_days`` (default 400; less than 366 is raised to 366).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

RETENTION_PROPERTY = "access_log_retention_days"
DEFAULT_RETENTION_DAYS = 400
MIN_RETENTION_DAYS = 366
PREFIX, SUFFIX = "access-", ".jsonl"


def access_dir(home: Path) -> Path:
    return home / "logs" / "access"


def record(home: Path, *, actor: str, via: str, method: str, route: str, status: int,
           now: datetime | None = None) -> None:
    when = now or datetime.now(UTC)
    folder = access_dir(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = json.dumps({"at": when.isoformat(timespec="seconds"), "actor": actor, "via": via, "method": method,
                       "route": route, "status": status}, sort_keys=True) + "\n"
    fd = os.open(folder / f"{PREFIX}{when.date().isoformat()}{SUFFIX}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def retention_days(properties: Mapping[str, Any]) -> int:
    try:
        days = int(properties.get(RETENTION_PROPERTY, DEFAULT_RETENTION_DAYS))
    except (TypeError, ValueError):
        days = DEFAULT_RETENTION_DAYS
    return max(days, MIN_RETENTION_DAYS)


def prune(home: Path, properties: Mapping[str, Any], today: date | None = None) -> int:
    """Remove the day files older than the retention; the number removed."""
    limit = (today or datetime.now(UTC).date()) - timedelta(days=retention_days(properties))
    removed = 0
    folder = access_dir(home)
    if not folder.exists():
        return 0
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            day = date.fromisoformat(path.name[len(PREFIX):-len(SUFFIX)])
        except ValueError:
            continue
        if day < limit:
            path.unlink()
            removed += 1
    return removed


def entries(home: Path) -> list[dict[str, Any]]:
    """Every line kept, oldest day first (for tests and inspection)."""
    out: list[dict[str, Any]] = []
    for path in sorted(access_dir(home).glob(f"{PREFIX}*{SUFFIX}")):
        out.extend(json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip())
    return out
