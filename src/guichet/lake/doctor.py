"""``guichet doctor`` checks of the lake: abandoned pending versions, orphan folders, expired quarantine,
engine spill folders left by dead processes."""

from __future__ import annotations

from guichet.actor import system_actor
from guichet.engine.connection import remove_stale_spills
from guichet.hub import Hub
from guichet.lake.atomic import purge_quarantine, recover
from guichet.lake.writing import RECOVERY, finish_interrupted
from guichet.lifecycle.doctor import DoctorItem, doctor_check

DEFAULT_RETENTION_DAYS = 90


def retention_days(hub: Hub) -> int:
    return int(hub.config.properties.get("quarantine_retention_days", DEFAULT_RETENTION_DAYS))


@doctor_check
def check_pending_deposits(hub: Hub) -> DoctorItem:
    rolled, removed = recover(hub)
    if rolled or removed:
        return DoctorItem("pending deposits", "repaired",
                          f"rolled back {rolled} pending version(s), removed {removed} orphan folder(s)")
    return DoctorItem("pending deposits", "ok", "no pending version or orphan folder")


@doctor_check
def check_interrupted_versions(hub: Hub) -> DoctorItem:
    """Versions a crash left committed but never gated: gated now, as the hub, with their audit events."""
    done = finish_interrupted(hub, system_actor(), RECOVERY)
    if done:
        what = ", ".join(f"{d} v{v} {s}" for d, v, s in done)
        return DoctorItem("interrupted versions", "repaired", f"gated {len(done)} version(s) a crash left: {what}")
    return DoctorItem("interrupted versions", "ok", "no version left between its commit and its gates")


@doctor_check
def check_quarantine_retention(hub: Hub) -> DoctorItem:
    days = retention_days(hub)
    purged = purge_quarantine(hub, days)
    if purged:
        return DoctorItem("quarantine retention", "repaired", f"purged {purged} quarantine(s) older than {days} days")
    return DoctorItem("quarantine retention", "ok", f"nothing older than {days} days")


@doctor_check
def check_engine_spills(hub: Hub) -> DoctorItem:
    removed = remove_stale_spills()
    if removed:
        return DoctorItem("engine spill folders", "repaired",
                          f"removed {removed} spill folder(s) left by processes that died")
    return DoctorItem("engine spill folders", "ok", "none left by a dead process")
