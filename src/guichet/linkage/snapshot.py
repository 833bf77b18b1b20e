"""The person index as a part of lake snapshots: its version and the dataset versions it was linked from
(an extract is held when the index is older than the snapshot's versions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.lake.snapshots import register_part
from guichet.linkage.tables import LinkageRun


def person_index(session: Session) -> dict[str, Any] | None:
    run = session.execute(select(LinkageRun).where(LinkageRun.status == "committed")
                          .order_by(LinkageRun.version.desc()).limit(1)).scalar_one_or_none()
    if run is None:
        return None
    inputs = {str(k): int(v) for k, v in dict((run.summary or {}).get("versions", {})).items()}
    return {"version": run.version, "inputs": inputs, "origin": run.origin}


register_part("person_index", person_index)
