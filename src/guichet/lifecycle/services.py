"""Lifecycle services (audited state changes of the hub itself)."""

from __future__ import annotations

from guichet.governance import Unit, service
from guichet.lifecycle.doctor import DoctorItem, run_checks


@service("hub.init")
def record_init(unit: Unit, mode: str) -> None:
    unit.note(obj="hub", mode=mode, schema=unit.hub.store.current_revision())


@service("hub.doctor", transactional=False)
def doctor(unit: Unit) -> list[DoctorItem]:
    """Run every doctor check; the audit event lists what was repaired or failed."""
    items = run_checks(unit.hub)
    unit.note(obj="hub", repaired=[i.name for i in items if i.status == "repaired"],
              failed=[i.name for i in items if i.status == "failed"])
    return items
