"""An auditor's bundle: a period's events with the signed checkpoints, verifiable without the hub.

See ``guichet.audit.bundle`` for the layout; that module is copied into the bundle as ``verify_bundle.py``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from guichet.audit import bundle
from guichet.audit.chain import mirror_line
from guichet.audit.checkpoint import LatestCheckpoint, published
from guichet.audit.log import row_fields
from guichet.errors import BadInput, Conflict
from guichet.store.db import Store
from guichet.store.models import AuditEvent

README = """Guichet audit export: events from {start} to {end} ({events} events, seq {first} to {last}).

Verify it without the hub:  python verify_bundle.py .  [--public-key KEY]
(needs Python 3.11+ and the 'cryptography' package), or:  guichet audit verify --bundle DIR

Compare audit-public-key.txt with the key the hub publishes at /transparency/checkpoints.json and the
custodian's operator gives you: a bundle checked against a key it brings itself proves only that it is
consistent.
"""


@dataclass(frozen=True)
class ExportResult:
    out: str
    events: int
    links: int
    checkpoints: int
    first_seq: int | None
    last_seq: int | None


def export_bundle(store: Store, audit_dir: Path, start: date, end: date, out: Path,
                  latest: LatestCheckpoint) -> ExportResult:
    if end < start:
        raise BadInput("--to: before --from")
    if out.exists() and any(out.iterdir()):
        raise Conflict(f"--out {out}: exists and is not empty; a bundle is written to a new folder")
    out.mkdir(parents=True, exist_ok=True)
    low, high = start.isoformat(), (end + timedelta(days=1)).isoformat()
    anchor = latest.checkpoint.seq if latest.checkpoint else 0
    events = links = 0
    first: int | None = None
    last: int | None = None
    with store.read() as session, (out / "events.jsonl").open("w", encoding="utf-8") as ev, \
            (out / "links.jsonl").open("w", encoding="utf-8") as ln:
        rows = session.execute(select(AuditEvent).where(AuditEvent.at >= low, AuditEvent.at < high)
                               .order_by(AuditEvent.seq)).scalars()
        for row in rows:
            ev.write(mirror_line(row_fields(row), row.prev_hash, row.hash))
            first = row.seq if first is None else first
            last = row.seq
            events += 1
        if last is not None and anchor > last:
            later = session.execute(select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
                                    .where(AuditEvent.seq > last, AuditEvent.seq <= anchor).order_by(AuditEvent.seq))
            for seq, prev, digest in later:
                ln.write(json.dumps({"seq": seq, "prev_hash": prev, "hash": digest}, sort_keys=True) + "\n")
                links += 1
    seen: dict[int, dict[str, object]] = {}
    for cp in published(audit_dir):
        seen[int(cp["seq"])] = {k: cp[k] for k in ("seq", "head", "at", "key_id", "signature")}
    if latest.checkpoint is not None:
        seen[latest.checkpoint.seq] = dict(latest.checkpoint.to_dict())
    with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as cps:
        for seq in sorted(seen):
            cps.write(json.dumps(seen[seq], sort_keys=True) + "\n")
    (out / "audit-public-key.txt").write_text(latest.public_key + "\n", encoding="ascii")
    shutil.copyfile(bundle.__file__, out / "verify_bundle.py")
    (out / "README.txt").write_text(README.format(start=start, end=end, events=events, first=first, last=last),
                                    encoding="utf-8")
    return ExportResult(str(out), events, links, len(seen), first, last)
