"""``guichet doctor``: find and repair what a crash or an upgrade left behind.

Each check is a function registered in ``CHECKS`` with ``@doctor_check``; packages below the stages add
theirs (the lake: pending versions, orphan staging folders, expired quarantine) from a module listed in
``DOCTOR_MODULES``, imported before the checks run, so that no check depends on what a caller imported.
A check answers ok, repaired or failed; doctor exits 1 only when an item failed. Doctor never rewrites
history: it completes the audit mirror from the database, it never edits an existing line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import import_module
from typing import Literal

from guichet.audit.mirror import complete_mirror
from guichet.config import HUB_FOLDERS
from guichet.hub import Hub

Status = Literal["ok", "repaired", "failed"]


@dataclass(frozen=True)
class DoctorItem:
    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


Check = Callable[[Hub], DoctorItem]
CHECKS: list[Check] = []
DOCTOR_MODULES: tuple[str, ...] = ("guichet.lake.doctor",)


def doctor_check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


@doctor_check
def check_folders(hub: Hub) -> DoctorItem:
    missing = [name for name in HUB_FOLDERS if not hub.config.folder(name).is_dir()]
    for name in missing:
        hub.config.folder(name).mkdir(mode=0o700)
    if missing:
        return DoctorItem("folders", "repaired", f"recreated {', '.join(missing)}")
    return DoctorItem("folders", "ok", "every hub folder is present")


@doctor_check
def check_schema(hub: Hub) -> DoctorItem:
    current, head = hub.store.current_revision(), hub.store.head_revision()
    if current == head:
        return DoctorItem("database schema", "ok", f"at revision {head}")
    hub.store.upgrade()
    return DoctorItem("database schema", "repaired", f"migrated from {current} to {head}")


@doctor_check
def check_audit_mirror(hub: Hub) -> DoctorItem:
    sync = complete_mirror(hub.store, hub.audit_dir)
    if sync.problem:
        return DoctorItem("audit mirror", "failed", sync.problem + "; run 'guichet audit verify'")
    if sync.appended:
        torn = " (completed a torn last line)" if sync.completed_torn_line else ""
        return DoctorItem("audit mirror", "repaired", f"appended {sync.appended} event(s) from the database{torn}")
    return DoctorItem("audit mirror", "ok", "the files hold every event of the database")


@doctor_check
def check_file_modes(hub: Hub) -> DoctorItem:
    """The hub's files are its own OS user's only (0600, folders 0700): a hub made before that rule, or a file
    copied in by hand, is tightened."""
    fixed = 0
    for path in [hub.home, *hub.home.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)
            fixed += 1
    if fixed:
        return DoctorItem("file modes", "repaired", f"{fixed} file(s) or folder(s) were readable by others: now 0600/0700")
    return DoctorItem("file modes", "ok", "every file is the hub's OS user's only")


def run_checks(hub: Hub) -> list[DoctorItem]:
    for module in DOCTOR_MODULES:
        import_module(module)
    items = []
    for check in CHECKS:
        try:
            items.append(check(hub))
        except Exception as exc:  # noqa: BLE001 - one failed check must not hide the others
            items.append(DoctorItem(check.__name__.removeprefix("check_").replace("_", " "), "failed",
                                    f"{type(exc).__name__} while checking"))
    return items
