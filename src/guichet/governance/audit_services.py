"""Audit services: verification is a read, open to operators and auditors."""

from __future__ import annotations

from guichet.audit.verify import VerifyReport, verify
from guichet.governance import Unit, query


@query("audit.verify")
def verify_chain(unit: Unit) -> VerifyReport:
    return verify(unit.hub.store, unit.hub.audit_dir)
