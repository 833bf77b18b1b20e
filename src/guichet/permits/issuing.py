"""Building a permit document from an authorised application, and the rules of its changes. Pure."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from guichet.errors import BadInput
from guichet.permits.dates import EXTENSION_NOTICE_DAYS, add_months
from guichet.permits.document import FORMAT, SCHEMA_VERSION

DEFAULT_MAX_MONTHS = 60  # the configured maximum validity (property permit_max_months)
MAX_EXCLUSION_YEARS = 5  # Art 63: exclusion from access up to 5 years
DEFAULT_LEGAL_BASIS = "Regulation (EU) 2025/327 (EHDS), Art 68; processing for a purpose of Art 53(1)"


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # principal_investigator | member
    attested_until: date | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role,
                "attested_until": self.attested_until.isoformat() if self.attested_until else None}


def max_months(properties: dict[str, Any]) -> int:
    value = properties.get("permit_max_months", DEFAULT_MAX_MONTHS)
    if not isinstance(value, int) or value < 1:
        raise BadInput("permit_max_months: a whole number of months >= 1")
    return value


def validity(start: date, months: int, maximum: int) -> tuple[date, date, int]:
    """First and last day of a permit of ``months`` months (at most ``maximum``), and the maximum in days."""
    months = min(months, maximum)
    end = add_months(start, months) - timedelta(days=1)
    return start, end, (add_months(start, maximum) - start).days


def _dates(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("from", "to", "at", "start", "end") and isinstance(v, str) and len(v) == 10:
                found.append(v)
            else:
                _dates(v, found)
    elif isinstance(value, list):
        for v in value:
            _dates(v, found)


def period_of(criteria: Any) -> dict[str, str | None]:
    """The population period: the first and last dates the criteria name (None when they name none, or when a
    window of the criteria leaves that end open: ``{"period": {"from": A}}`` is from A on, not the day A)."""
    found: list[str] = []
    _dates(criteria, found)
    valid = sorted(d for d in found if _is_date(d))
    open_start, open_end = _open_ends(criteria)
    return {"start": valid[0] if valid and not open_start else None,
            "end": valid[-1] if valid and not open_end else None}


def _open_ends(value: Any) -> tuple[bool, bool]:
    """Whether some window (a dict with ``from`` or ``to``) of the criteria leaves its start, its end open."""
    start = end = False
    if isinstance(value, dict):
        if "from" in value or "to" in value:
            start, end = "from" not in value, "to" not in value
        for v in value.values():
            s, e = _open_ends(v)
            start, end = start or s, end or e
    elif isinstance(value, list):
        for v in value:
            s, e = _open_ends(v)
            start, end = start or s, end or e
    return start, end


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def output_conditions(properties: dict[str, Any]) -> dict[str, Any]:
    return {"rule_set": str(properties.get("airlock_rule_set", "default")),
            "rounding": int(properties.get("airlock_rounding", 10)),
            "min_cell": int(properties.get("airlock_min_cell", 11)),
            "models_may_leave": bool(properties.get("airlock_models_may_leave", False))}


def _exact_and_shift(data: list[dict[str, Any]], ident: dict[str, Any]) -> dict[str, Any]:
    """The data section's optional grants: variables asked in their exact form (``granted``, among the item's
    variables) and the per-person date shift's bound (``date_shift_days``). Absent when not asked."""
    out: dict[str, Any] = {}
    granted = sorted({f"{d.get('table')}.{v}" for d in data for v in d.get("granted") or []
                      if v in (d.get("variables") or [])})
    if granted:
        out["granted"] = granted
    if int(ident.get("date_shift_days") or 0) > 0:
        out["date_shift_days"] = int(ident["date_shift_days"])
    return out


def build_document(*, permit_id: str, issued: date, hub_name: str, application: dict[str, Any], org: str,
                   org_kind: str, principal_investigator: str, people: list[Person], start: date, end: date,
                   max_days: int, fees: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """The first revision of a permit, from the application's content (EHDS Art 67(2) -> Art 68)."""
    content = application["content"]
    data = [d for d in content.get("data", []) if isinstance(d, dict)]
    resources_text = content.get("resources")
    exception = content.get("optout_exception") or {}
    ident = content.get("identification") or {}
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "id": permit_id,
        "revision": 1,
        "issued_at": issued.isoformat(),
        "revised_at": issued.isoformat(),
        "hub": {"name": hub_name, "registry": "/registry"},
        "application": application["label"],
        "holder": {"organisation": org, "organisation_kind": org_kind, "principal_investigator": principal_investigator},
        "people": [p.to_dict() for p in people],
        "purpose": {"category": str(content.get("purpose", "")),
                    "description": str(content.get("public_interest") or content.get("title") or "")[:4000]},
        "legal_basis": str(properties.get("permit_legal_basis", DEFAULT_LEGAL_BASIS)),
        "data": {"categories": sorted({str(d.get("category", "claims")) for d in data}) if data else [],
                 "products": sorted({str(d.get("product")) for d in data}),
                 "tables": sorted({str(d.get("table")) for d in data}),
                 "variables": [{"table": t, "variable": v} for t, v in
                               sorted({(str(d.get("table")), str(v)) for d in data for v in d.get("variables", [])})],
                 **_exact_and_shift(data, ident)},
        "population": {"criteria": copy.deepcopy(content.get("criteria")), "period": period_of(content.get("criteria"))},
        "pseudonymisation": "anonymised" if ident.get("form") == "anonymised" else "pseudonymised",
        "validity": {"start": start.isoformat(), "end": end.isoformat(), "max_days": max_days, "extension": None},
        "tools": [str(resources_text)[:400]] if resources_text else [],
        "resources": {"workspace": "hub", "compute_hours": int(fees.get("compute_hours", 0))},
        "fees": {"currency": fees["currency"], "total_cents": fees["total_cents"], "schedule": fees["schedule"],
                 "lines": fees["lines"]},
        "output_conditions": output_conditions(properties),
        "opt_out_exceptions": ["art_71_4"] if exception.get("requested") else [],
        "amendments": [],
        "revocation": None,
    }


def revise(document: dict[str, Any], day: date, change: str, reason: str) -> dict[str, Any]:
    """The next revision of a document: a copy with the revision number and the amendment recorded."""
    doc = copy.deepcopy(document)
    doc["revision"] = int(doc["revision"]) + 1
    doc["revised_at"] = day.isoformat()
    doc["amendments"].append({"revision": doc["revision"], "date": day.isoformat(), "change": change, "reason": reason})
    return doc


def check_extension(start: date, end: date, until: date, today: date, already: bool) -> None:
    """One extension, of at most the permit's first length, asked at least a month before it ends."""
    if already:
        raise BadInput("this permit was already extended once; a new application is needed")
    if until <= end:
        raise BadInput(f"--until {until:%Y-%m-%d}: after the current end {end:%Y-%m-%d}")
    first_length = (end - start).days + 1
    if (until - end).days > first_length:
        raise BadInput(f"--until {until:%Y-%m-%d}: an extension lasts at most the permit's first length "
                       f"({first_length} days, so until {end + timedelta(days=first_length):%Y-%m-%d})")
    if (end - today).days < EXTENSION_NOTICE_DAYS:
        raise BadInput(f"an extension is asked at least {EXTENSION_NOTICE_DAYS} days before the end "
                       f"({end:%Y-%m-%d})")


def exclusion_until(today: date, years: int) -> date | None:
    if not 0 <= years <= MAX_EXCLUSION_YEARS:
        raise BadInput(f"--exclude-years: between 0 and {MAX_EXCLUSION_YEARS} (EHDS Art 63)")
    if years == 0:
        return None
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)
