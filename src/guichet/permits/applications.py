"""What the permits package reads of an application (``guichet.access``): one plain record, so that the rest
of the package does not depend on the access package's tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.access.tables import Application, ApplicationRevision
from guichet.errors import NotFound


@dataclass(frozen=True)
class ApplicationView:
    id: int
    title: str
    applicant: str
    org: str
    org_kind: str
    state: str
    revision: int
    content: dict[str, Any]

    @property
    def label(self) -> str:
        return f"A-{self.id}"

    @property
    def products(self) -> list[str]:
        return sorted({str(d.get("product")) for d in self.content.get("data", []) if isinstance(d, dict)})

    @property
    def tables(self) -> list[str]:
        return sorted({str(d.get("table")) for d in self.content.get("data", []) if isinstance(d, dict)})

    @property
    def variables(self) -> list[dict[str, str]]:
        out = {(str(d.get("table")), str(v)) for d in self.content.get("data", []) if isinstance(d, dict)
               for v in d.get("variables", [])}
        return [{"table": t, "variable": v} for t, v in sorted(out)]

    @property
    def duration_months(self) -> int:
        value = self.content.get("duration_months")
        return int(value) if isinstance(value, int) and value > 0 else 12


def application_row(session: Session, application_id: int) -> Application | None:
    return session.get(Application, application_id) if isinstance(application_id, int) else None


def load_application(session: Session, application_id: int) -> ApplicationView:
    app = application_row(session, application_id)
    if app is None:
        raise NotFound(f"no application {application_id}")
    rev = session.execute(select(ApplicationRevision).where(ApplicationRevision.application_id == app.id,
                                                            ApplicationRevision.number == app.revision)).scalar_one()
    return ApplicationView(app.id, app.title, app.applicant, app.org, app.org_kind, app.state, app.revision,
                           dict(rev.content))
