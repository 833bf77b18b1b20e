"""Audit services that need the custodian: signing a checkpoint of the chain's head, exporting a bundle.

The custodian holds the audit key; the hub sends it the head (event count and hash) and keeps a copy of
each signed checkpoint for the public page (``guichet.audit.checkpoint``). Plain functions for the
scheduler and the CLI are in ``guichet.custodian.audit_trail``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from guichet.audit.checkpoint import LatestCheckpoint, SignedCheckpoint, publish
from guichet.audit.export import ExportResult, export_bundle
from guichet.audit.mirror import complete_mirror
from guichet.audit.verify import verify
from guichet.custodian import custodian_for
from guichet.errors import Conflict
from guichet.governance import Unit, query, service


@service("audit.checkpoint", transactional=False)
def checkpoint(unit: Unit) -> SignedCheckpoint:
    """Verify the chain (against the latest checkpoint too), then have the custodian sign its head and
    publish the checkpoint. Refused (``Conflict``) when the chain does not verify: a broken chain is never
    signed. The event of this service follows the head it signs."""
    complete_mirror(unit.hub.store, unit.hub.audit_dir)  # the files hold every event signed
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    previous, public_key = custodian.latest_audit_checkpoint()
    report = verify(unit.hub.store, unit.hub.audit_dir, latest=LatestCheckpoint(previous, public_key))
    if not report.ok:
        bad = report.first_bad
        assert bad is not None
        raise Conflict(f"audit checkpoint: the chain does not verify (the {bad.where}, event {bad.seq}); "
                       "nothing signed; run 'guichet audit verify'")
    # The head signed is the one just verified (events committed since are covered by the next checkpoint).
    signed = custodian.sign_audit_checkpoint(report.events, report.head)
    publish(unit.hub.audit_dir, signed, public_key)
    unit.note(obj="audit", seq=signed.seq, key=signed.key_id)
    return signed


@query("audit.export")
def export(unit: Unit, start: date, end: date, out: Path) -> ExportResult:
    """A period's events (by the date they were recorded, UTC), the later links up to the latest
    checkpoint, the checkpoints and the audit public key, with a script that verifies them."""
    custodian = custodian_for(unit.hub.config, caller=unit.actor.username)
    latest = LatestCheckpoint(*custodian.latest_audit_checkpoint())
    result = export_bundle(unit.hub.store, unit.hub.audit_dir, start, end, out, latest)
    unit.note(obj="audit", start=start.isoformat(), end=end.isoformat(), events=result.events)
    return result
