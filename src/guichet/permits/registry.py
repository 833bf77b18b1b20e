"""The public registry (EHDS Arts 57-58): every application listed on reception, the panels' opinions and the
decisions with their reasons, the permits, each with its dates against its statutory clock — as data for the
page, ``/registry.json`` and ``/registry.atom``. No personal data beyond the organisation and the principal
investigator's name: no account names, no named people, no criteria values beyond what the applicant wrote
for the public (the plain summary)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select
from sqlalchemy.orm import Session

from guichet.access.clocks import Duration, due_date
from guichet.access.tables import Application, ApplicationEvent, ApplicationRevision, Opinion
from guichet.access.workflow import workflow
from guichet.hub import Hub
from guichet.permits.signing import load_or_create_key
from guichet.permits.state import effective_state
from guichet.permits.tables import Permit

PUBLICATION = Duration(30, "working_days")  # each decision is published within 30 working days
ATOM = "http://www.w3.org/2005/Atom"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _d(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _content(session: Session, app: Application, number: int) -> dict[str, Any]:
    rev = session.execute(select(ApplicationRevision).where(ApplicationRevision.application_id == app.id,
                                                            ApplicationRevision.number == number)).scalar_one_or_none()
    return dict(rev.content) if rev is not None else {}


def build_registry(hub: Hub, session: Session, today: date) -> dict[str, Any]:
    cal = workflow(hub.config.properties).calendar
    key = load_or_create_key(hub.config).public
    permits = {p.application: p for p in session.execute(select(Permit).order_by(Permit.id)).scalars()}
    applications: list[dict[str, Any]] = []
    for app in session.execute(select(Application).where(Application.state != "draft")
                               .order_by(Application.id)).scalars():
        events = session.execute(select(ApplicationEvent).where(ApplicationEvent.application_id == app.id)
                                 .order_by(ApplicationEvent.id)).scalars().all()
        received = next((e.at for e in events if e.action == "submit"), app.created_at)
        decided = next((e for e in events if e.to_state in ("authorised", "refused")), None)
        content = _content(session, app, app.revision)
        investigator = content.get("investigator") or {}
        opinions = session.execute(select(Opinion).where(Opinion.application_id == app.id)
                                   .order_by(Opinion.id)).scalars().all()
        permit = permits.get(str(app.id))
        entry: dict[str, Any] = {
            "id": f"A-{app.id}",
            "received": _iso(_d(received)),
            "organisation": app.org,
            "organisation_kind": app.org_kind,
            "principal_investigator": str(investigator.get("name", "")) or None,
            "title": app.title,
            "purpose": content.get("purpose"),
            "products": sorted({str(d.get("product")) for d in content.get("data", []) if isinstance(d, dict)}),
            "summary": content.get("public_summary"),
            "status": app.state,
            "updated": _iso(app.updated_at),
            "due": _iso(_d(app.due)),
            "opinions": [{"panel": o.panel, "binding": o.binding, "outcome": o.outcome, "reason": o.reason,
                          "date": _iso(_d(o.given_at))} for o in opinions],
            "decision": None,
            "permit": permit.id if permit is not None else None,
        }
        if decided is not None:
            day = _d(decided.at)
            publish_by = due_date(day, PUBLICATION, cal) if day is not None else None
            entry["decision"] = {"outcome": decided.to_state, "reason": app.decision_reason or decided.reason,
                                 "date": _iso(day), "publish_by": _iso(publish_by),
                                 "published": _iso(day), "on_time": True}
        applications.append(entry)
    permit_rows = []
    for p in permits.values():
        doc = p.document
        revocation = doc.get("revocation")
        permit_rows.append({
            "id": p.id, "application": f"A-{p.application}", "organisation": p.org,
            "principal_investigator": next((a["principal_investigator"] for a in applications
                                            if a["id"] == f"A-{p.application}"), None),
            "state": effective_state(session, p, today), "revision": p.revision,
            "issued": _iso(_d(p.issued_at)), "valid_from": _iso(p.valid_from), "valid_until": _iso(p.valid_until),
            "extended": p.extended, "products": doc.get("data", {}).get("products", []),
            "purpose": doc.get("purpose", {}).get("category"),
            "revocation": {"date": revocation["date"], "reason": revocation["reason"]} if revocation else None,
            "results_due": _iso(p.results_due), "data_deleted_by": _iso(p.delete_by),
        })
    return {
        "registry": "guichet.registry", "version": 1, "generated": _iso(datetime.now(UTC).replace(microsecond=0)),
        "hub": {"name": str(hub.config.properties.get("hub_name") or hub.config.properties.get("publisher_name") or "Guichet"),
                "signing_key": key.to_dict()},
        "applications": applications,
        "permits": sorted(permit_rows, key=lambda r: r["id"]),
        "releases": [],
    }


def atom_feed(registry: dict[str, Any], base_url: str) -> bytes:
    """The registry as an Atom feed: one entry per application received, decision and permit."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"{registry['hub']['name']}: public registry"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{base_url}/registry"
    ET.SubElement(feed, f"{{{ATOM}}}link", href=f"{base_url}/registry.atom", rel="self")
    ET.SubElement(feed, f"{{{ATOM}}}link", href=f"{base_url}/registry", rel="alternate")
    entries: list[tuple[str, str, str, str]] = []  # (updated, id, title, summary)
    for a in registry["applications"]:
        entries.append((f"{a['received']}T00:00:00Z", f"{base_url}/registry#{a['id']}-received",
                        f"Application {a['id']} received: {a['title']}",
                        f"{a['organisation']} — {a['purpose']}. {a['summary'] or ''}"))
        if a["decision"]:
            d = a["decision"]
            entries.append((f"{d['date']}T00:00:00Z", f"{base_url}/registry#{a['id']}-decision",
                            f"Application {a['id']} {d['outcome']}", f"{d['outcome']}: {d['reason']}"))
    for p in registry["permits"]:
        entries.append((f"{p['issued']}T00:00:00Z", f"{base_url}/registry#{p['id']}",
                        f"Permit {p['id']} issued to {p['organisation']}",
                        f"Valid {p['valid_from']} to {p['valid_until']}; state {p['state']}."))
        if p["revocation"]:
            entries.append((f"{p['revocation']['date']}T00:00:00Z", f"{base_url}/registry#{p['id']}-revoked",
                            f"Permit {p['id']} revoked", p["revocation"]["reason"]))
    entries.sort(reverse=True)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = entries[0][0] if entries else f"{registry['generated']}"
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = registry["hub"]["name"]
    for updated, ident, title, summary in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = ident
        ET.SubElement(entry, f"{{{ATOM}}}title").text = title
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = updated
        ET.SubElement(entry, f"{{{ATOM}}}link", href=ident)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = summary
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
