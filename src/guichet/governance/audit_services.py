"""Audit services: verification is a read, open to operators and auditors."""

from __future__ import annotations

from guichet.audit.checkpoint import LatestCheckpoint
from guichet.audit.verify import VerifyReport, verify
from guichet.governance import Unit, query


@query("audit.verify")
def verify_chain(unit: Unit, latest: LatestCheckpoint | None = None) -> VerifyReport:
    """The chain in the database and the files; given the custodian's ``latest`` checkpoint, also that the
    chain still holds it (the caller asks the custodian: ``guichet.custodian.audit_trail``)."""
    return verify(unit.hub.store, unit.hub.audit_dir, latest=latest)
