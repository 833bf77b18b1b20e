"""The producers' channel: open a resumable upload, send its chunks, submit it to the deposit, read receipts.

Every state change is a ``@service`` (permission checked, audited), every read a ``@query``. A producer acts
only on its own organisation's deliveries; another producer's delivery answers "no such delivery".
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from typing import Any

from sqlalchemy import func, select

from guichet.delivery.model import REPORT_FORMAT, DeliveryInfo, info, now, sealed_rows
from guichet.delivery.tables import Upload
from guichet.delivery.uploads import (
    Limits,
    UploadRequest,
    archive_request,
    assemble,
    canonical,
    chunk_count,
    chunk_length,
    file_request,
    get_upload,
    make_dir,
    missing,
    own_producer,
    received_chunks,
    unpack,
    upload_dir,
)
from guichet.errors import BadInput, Conflict, GuichetError, NotFound
from guichet.governance import Unit, query, service
from guichet.lake.producers import STAFF, producers_of
from guichet.lake.tables import Producer, SchemaVersion
from guichet.lake.versions import all_versions, by_deposit_in

DEPOSIT_STATUSES = ("published", "held", "rejected")


@service("delivery.open")
def open_delivery(unit: Unit, request: UploadRequest) -> DeliveryInfo:
    """Open a resumable upload: the file's name, size and SHA-256 are declared now and checked at the end."""

    limits = Limits.of(unit.hub)
    req = request.checked(limits)
    s = unit.session
    producer = own_producer(s, unit.actor, req.producer)
    if req.kind == "file" and s.execute(select(SchemaVersion.id).where(SchemaVersion.dataset == req.dataset)
                                        .limit(1)).first() is None:
        raise BadInput(f"dataset {req.dataset}: no schema registered yet; send a .zip delivery with its "
                       "manifest.toml and Table Schema")
    open_now = s.execute(select(func.count()).select_from(Upload).where(
        Upload.producer == producer, Upload.status == "open")).scalar_one()
    if open_now >= limits.open_uploads:
        raise Conflict(f"producer {producer} has {open_now} open uploads (the limit); submit or let them expire first")
    upload_id = "dl" + secrets.token_hex(8)
    at = now()
    s.add(Upload(id=upload_id, producer=producer, username=unit.actor.username, dataset=req.dataset or "",
                          product_id=None, filename=req.filename, size=req.size, sha256=req.sha256,
                          chunk_size=limits.chunk_bytes, received=0, status="open",
                          options={"kind": req.kind, "mode": req.mode, "identifiers": list(req.identifiers),
                                   "delimiter": req.delimiter},
                          receipt={}, result={}, created_at=at, updated_at=at))
    make_dir(upload_dir(unit.hub, upload_id) / "chunks")
    s.flush()
    unit.note(obj=f"delivery:{upload_id}", producer=producer, kind=req.kind, size=req.size,
              chunks=chunk_count(req.size, limits.chunk_bytes))
    return info(unit.hub, get_upload(s, unit.actor, upload_id))


@service("delivery.upload")
def upload_chunk(unit: Unit, delivery_id: str, number: int, data: bytes) -> DeliveryInfo:
    """Store chunk ``number`` (0-based) of an open upload; sending a chunk again replaces it."""
    row = get_upload(unit.session, unit.actor, delivery_id)
    if row.status != "open":
        raise Conflict(f"delivery {delivery_id} is {row.status}: it takes no more chunks")
    total = chunk_count(row.size, row.chunk_size)
    if not 0 <= number < total:
        raise BadInput(f"chunk {number}: this delivery has chunks 0 to {total - 1}")
    expected = chunk_length(row.size, row.chunk_size, number)
    if len(data) != expected:
        raise BadInput(f"chunk {number}: {len(data)} bytes received, {expected} expected (a cut transfer? send it again)")
    folder = upload_dir(unit.hub, delivery_id)
    from guichet.delivery.uploads import write_chunk

    write_chunk(folder, number, data)
    row.received = sum(received_chunks(folder).values())
    row.updated_at = now()
    unit.note(obj=f"delivery:{delivery_id}", chunk=number, bytes=len(data))
    return info(unit.hub, row)


def _mark(unit: Unit, delivery_id: str, status: str, receipt: dict[str, Any] | None = None,
          result: dict[str, Any] | None = None) -> None:
    with unit.hub.store.write() as s:
        row = s.get(Upload, delivery_id)
        assert row is not None
        row.status, row.updated_at = status, now()
        if receipt is not None:
            row.receipt = receipt
        if result is not None:
            row.result = result


def _receipt(unit: Unit, row: Upload) -> dict[str, Any]:
    body = {"delivery": row.id, "producer": row.producer, "submitted_by": unit.actor.username,
            "opened_by": row.username, "filename": row.filename, "size": row.size, "sha256": row.sha256,
            "sha256_checked": True, "chunks": chunk_count(row.size, row.chunk_size),
            "opened_at": row.created_at.isoformat(), "last_chunk_at": row.updated_at.isoformat(),
            "received_at": now().isoformat()}
    return {**body, "receipt_sha256": hashlib.sha256(canonical(body).encode()).hexdigest()}


@service("delivery.submit", transactional=False)
def submit_delivery(unit: Unit, delivery_id: str) -> DeliveryInfo:
    """Check that every chunk arrived and that the SHA-256 matches; then deposit and write the receipt.

    An incomplete upload or a SHA-256 mismatch is refused and changes nothing: the received chunks stay, the
    producer resumes. After the deposit (whatever its result) the uploaded bytes are removed."""
    from guichet.deposit import services as deposits

    row = get_upload(unit.session, unit.actor, delivery_id)
    if row.status != "open":
        raise Conflict(f"delivery {delivery_id} was already submitted ({row.status})")
    folder = upload_dir(unit.hub, delivery_id)
    gaps = missing(row, received_chunks(folder))
    if gaps:
        shown = ", ".join(str(n) for n in gaps[:10]) + (" ..." if len(gaps) > 10 else "")
        have = sum(received_chunks(folder).values())
        raise Conflict(f"delivery {delivery_id} is incomplete: {have} of {row.size} bytes received; missing chunks "
                       f"{shown} (send them with PUT /api/deliveries/{delivery_id}/chunks/N, then submit again)")
    path, digest = assemble(folder, row)
    if digest != row.sha256:
        path.unlink()
        raise Conflict(f"delivery {delivery_id}: the SHA-256 of the {row.size} bytes received differs from the one "
                       "declared; nothing was deposited — send the chunks again, then submit again")
    receipt = _receipt(unit, row)
    _mark(unit, delivery_id, "received", receipt=receipt)
    opts = dict(row.options or {})
    outcome: dict[str, Any]
    try:
        if opts.get("kind") == "archive":
            request = archive_request(unpack(path, folder / "delivery", Limits.of(unit.hub).max_bytes), row.producer,
                                      str(opts.get("mode") or "replace"))
        else:
            request = file_request(unit.session, path, folder, row)
        results = deposits.deposit(unit.hub, unit.actor, request=request)
        outcome = {"deposits": [r.to_dict() for r in results]}
        status = "deposited" if any(r.status in ("published", "held", "unchanged") for r in results) else "failed"
    except GuichetError as exc:
        outcome, status = {"deposits": [], "error": str(exc)}, "failed"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    receipt["deposits"] = [d["deposit_id"] for d in outcome["deposits"] if d.get("deposit_id")]
    _mark(unit, delivery_id, status, receipt=receipt, result=outcome)
    unit.note(obj=f"delivery:{delivery_id}", status=status, size=row.size, deposits=len(outcome["deposits"]),
              quarantined=sum(int(d.get("rows_quarantined") or 0) for d in outcome["deposits"]))
    with unit.hub.store.read() as s:
        return info(unit.hub, get_upload(s, unit.actor, delivery_id))


@query("delivery.list")
def list_deliveries(unit: Unit, status: str | None = None, limit: int = 200) -> list[DeliveryInfo]:
    """Deliveries, newest first: a producer sees its own organisation's only."""
    q = select(Upload).order_by(Upload.created_at.desc(), Upload.id).limit(limit)
    if not (unit.actor.roles & {"operator", "system"}):
        q = q.where(Upload.producer.in_(sorted(producers_of(unit.session, unit.actor))))
    if status:
        q = q.where(Upload.status == status)
    return [info(unit.hub, r) for r in unit.session.execute(q).scalars()]


@query("delivery.deposits")
def list_deposits(unit: Unit, limit: int = 200) -> list[dict[str, Any]]:
    """Deposits made outside the portal (``guichet deposit run``), newest first, grouped by delivery (a
    manifest's tables) or alone: a producer sees its own organisation's only. Portal uploads are listed by
    ``list_deliveries``; their deposits are not repeated here."""
    uploads = unit.session.execute(select(Upload.receipt)).scalars()
    from_portal = {d for receipt in uploads for d in (receipt or {}).get("deposits", [])}
    own = None if unit.actor.roles & STAFF else producers_of(unit.session, unit.actor)
    groups: dict[str, dict[str, Any]] = {}
    for v in all_versions(unit.hub, statuses=DEPOSIT_STATUSES):
        if v.deposit_id in from_portal or (own is not None and v.producer not in own):
            continue
        key = v.delivery_id or v.deposit_id
        g = groups.setdefault(key, {"id": key, "channel": "command line", "producer": v.producer,
                                    "created_at": v.created_at, "tables": []})
        g["created_at"] = max(g["created_at"], v.created_at)
        g["tables"].append({"dataset": v.dataset, "version": v.version, "status": v.status, "rows_in": v.rows_in,
                            "rows_accepted": v.rows_accepted, "rows_quarantined": v.rows_quarantined,
                            "deposit_id": v.deposit_id})
    return sorted(groups.values(), key=lambda g: (g["created_at"], g["id"]), reverse=True)[:limit]


@query("delivery.show")
def show_delivery(unit: Unit, delivery_id: str) -> DeliveryInfo:
    """One delivery: how much was received (to resume), its receipt and the deposit's result."""
    return info(unit.hub, get_upload(unit.session, unit.actor, delivery_id))


@query("delivery.report")
def sealed_report(unit: Unit, delivery_id: str) -> dict[str, Any]:
    """The delivery's rejection report with identifier cells sealed to the producer's key (opened offline)."""
    row = get_upload(unit.session, unit.actor, delivery_id)
    producer = unit.session.execute(select(Producer).where(Producer.name == row.producer)).scalar_one_or_none()
    deposits: list[dict[str, Any]] = []
    for deposit_id in (row.receipt or {}).get("deposits", []):
        try:
            v = by_deposit_in(unit.session, deposit_id)
        except NotFound:
            continue
        if not v.rows_quarantined:
            continue
        deposits.append({"deposit_id": deposit_id, "dataset": v.dataset, "version": v.version,
                         "sealed_with": v.sealed_with, "rows": sealed_rows(unit.hub, v)})
    unit.note(obj=f"delivery:{delivery_id}", rows=sum(len(d["rows"]) for d in deposits))
    return {"format": REPORT_FORMAT, "delivery": delivery_id, "producer": row.producer,
            "key_fingerprint": producer.key_fingerprint if producer else None,
            "how_to_open": "guichet delivery open-report THIS_FILE --key-file YOUR-PRIVATE-KEY.pem",
            "deposits": deposits}
