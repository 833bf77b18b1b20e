"""Plain data of a delivery (what services return) and the sealed rejection report a producer downloads.

The sealed report holds, for each quarantined row, its number, the rules it broke, the cells the hub may
read, and the identifier and quasi-identifier cells *sealed to the producer's public key* (base64): the hub
cannot open them; ``guichet delivery open-report FILE --key-file KEY`` opens them on the producer's side.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guichet.delivery.tables import Upload
from guichet.delivery.uploads import chunk_count, missing, received_chunks
from guichet.errors import BadInput, NotFound
from guichet.hub import Hub
from guichet.lake import VersionInfo, read_quarantine

REPORT_FORMAT = "guichet-sealed-rejections/1"


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; every time the hub stores is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class DeliveryInfo:
    id: str
    producer: str
    username: str
    kind: str
    dataset: str | None
    filename: str
    size: int
    sha256: str
    chunk_size: int
    chunks: int
    received: int
    missing: list[int]
    status: str  # open | received | deposited | failed
    created_at: datetime
    updated_at: datetime
    receipt: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"], out["updated_at"] = self.created_at.isoformat(), self.updated_at.isoformat()
        out["missing"] = self.missing[:100]
        return out

    @property
    def deposits(self) -> list[dict[str, Any]]:
        return list(self.result.get("deposits") or [])


def info(hub: Hub, row: Upload) -> DeliveryInfo:
    from guichet.delivery.uploads import upload_dir

    on_disk = received_chunks(upload_dir(hub, row.id)) if row.status == "open" else {}
    gaps = missing(row, on_disk) if row.status == "open" else []
    received = sum(on_disk.values()) if row.status == "open" else row.size
    opts = dict(row.options or {})
    return DeliveryInfo(row.id, row.producer, row.username, str(opts.get("kind") or "file"),
                        row.dataset or None, row.filename, row.size, row.sha256, row.chunk_size,
                        chunk_count(row.size, row.chunk_size), received, gaps, row.status,
                        aware(row.created_at) or row.created_at, aware(row.updated_at) or row.updated_at,
                        dict(row.receipt or {}), dict(row.result or {}))


def sealed_rows(hub: Hub, version: VersionInfo) -> list[dict[str, Any]]:
    """Quarantined rows of a dataset version, with the identifier cells still sealed (base64)."""
    table = read_quarantine(hub, version)
    if table is None:
        if version.purged:
            raise NotFound(f"deposit {version.deposit_id}: its quarantine was purged after the retention period")
        return []
    out = [{"row": rec["_source_row"], "rules": rec["rules"].split("|"), "cells": json.loads(rec["cells"]),
            "sealed": base64.b64encode(rec["sealed"]).decode()} for rec in table.to_pylist()]
    return sorted(out, key=lambda r: r["row"])


def open_report(report: dict[str, Any], private_key_pem: str) -> list[dict[str, Any]]:
    """The producer's side: open every sealed cell of a downloaded report with the producer's private key."""
    from cryptography.exceptions import InvalidTag

    from guichet.deposit.sealing import Opener

    if report.get("format") != REPORT_FORMAT:
        raise BadInput(f"report: format is not {REPORT_FORMAT}")
    rows: list[dict[str, Any]] = []
    for deposit in report.get("deposits", []):
        opener = Opener(private_key_pem, bytes.fromhex(str(deposit["sealed_with"])))
        for r in deposit.get("rows", []):
            try:
                cells = json.loads(opener.open(base64.b64decode(r["sealed"])))
            except (InvalidTag, ValueError):
                raise BadInput(f"report: dataset {deposit.get('dataset')} row {r.get('row')} does not open with this "
                               "key (another producer's key?)") from None
            rows.append({"dataset": deposit.get("dataset"), "deposit_id": deposit.get("deposit_id"), "row": r["row"],
                         "rules": r["rules"], "cells": {**r.get("cells", {}), **cells}})
    return rows


def read_report(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise BadInput(f"{path}: not a readable JSON report") from None
    if not isinstance(value, dict):
        raise BadInput(f"{path}: not a sealed rejection report")
    return value


def split_rule(token: str) -> tuple[str, str]:
    """'type:BEN_NAI_ANN' -> ('type', 'BEN_NAI_ANN'); a whole-row rule has no field."""
    rule, _, fld = token.partition(":")
    return rule, fld
