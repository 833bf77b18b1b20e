"""Who may open a workspace session, and where its files go (``session_services`` uses these)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from guichet.errors import GuichetError, NotFound, Refused
from guichet.hub import Hub
from guichet.permits.accreditation import attestation_valid
from guichet.permits.state import effective_state
from guichet.permits.tables import Permit
from guichet.workspace.build import workspace_dir

OUTPUTS = "outputs"


class SessionFailed(GuichetError):
    """A session's query or script failed or was killed. ``stdout`` and ``stderr`` are what it printed."""

    def __init__(self, message: str, stdout: bytes = b"", stderr: bytes = b"") -> None:
        super().__init__(message)
        self.stdout, self.stderr = stdout, stderr


def outputs_dir(hub: Hub, permit_id: str) -> Path:
    return workspace_dir(hub, permit_id) / OUTPUTS


def require_access(session: Session, permit_id: str, username: str, today: date) -> Permit:
    """The permit, when ``username`` may open a session on it today; else ``Refused`` saying why."""
    permit = session.get(Permit, permit_id) if isinstance(permit_id, str) else None
    if permit is None:
        raise NotFound(f"no permit {str(permit_id)[:24]}")
    if not any(p.get("name") == username for p in permit.document.get("people", [])):
        raise Refused(f"{username} is not named on permit {permit.id}: no session")
    state = effective_state(session, permit, today)
    if state == "pending":
        raise Refused(f"permit {permit.id} is not in force yet (from {permit.valid_from.isoformat()}): no session")
    if state != "active":
        raise Refused(f"permit {permit.id} is {state}: no session")
    if not attestation_valid(session, username, today):
        raise Refused(f"{username} has no valid training attestation today: no session on permit {permit.id}")
    return permit


