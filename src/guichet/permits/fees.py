"""The fee schedule and the estimate it gives an application. Pure (the schedule is read from the package,
overridden by hub properties).

Priced by products, duration and compute; free for academic and public research, reduced for SMEs
(``fees.toml``: the share each kind of organisation pays).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from guichet.errors import BadInput

ORG_KINDS = ("academic", "public_body", "industry", "sme", "producer", "hub")


@dataclass(frozen=True)
class Schedule:
    name: str
    currency: str
    prices: dict[str, int]
    share: dict[str, int]


@dataclass(frozen=True)
class FeeLine:
    item: str
    quantity: int
    unit_cents: int
    amount_cents: int

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "quantity": self.quantity, "unit_cents": self.unit_cents,
                "amount_cents": self.amount_cents}


@dataclass(frozen=True)
class Estimate:
    schedule: str
    currency: str
    org_kind: str
    lines: tuple[FeeLine, ...]
    total_cents: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "currency": self.currency, "org_kind": self.org_kind,
                "lines": [ln.to_dict() for ln in self.lines], "total_cents": self.total_cents,
                "total": f"{self.total_cents / 100:.2f} {self.currency}", "notes": list(self.notes)}


def _default() -> dict[str, Any]:
    return tomllib.loads(resources.files("guichet.permits").joinpath("fees.toml").read_text("utf-8"))


def load_schedule(properties: dict[str, Any] | None = None) -> Schedule:
    """The default schedule, overridden by the file the property ``fees_file`` names, then by the
    ``[properties.fees]`` table of the hub's configuration (same keys as ``fees.toml``)."""
    raw = _default()
    props = properties or {}
    overrides: list[dict[str, Any]] = []
    if props.get("fees_file"):
        path = Path(str(props["fees_file"]))
        try:
            overrides.append(tomllib.loads(path.read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"fees_file {path}: cannot be read as TOML ({type(exc).__name__})") from None
    if isinstance(props.get("fees"), dict):
        overrides.append(props["fees"])
    for over in overrides:
        for key in ("name", "currency"):
            if key in over:
                raw[key] = over[key]
        for key in ("prices", "share"):
            if isinstance(over.get(key), dict):
                raw[key] = {**raw[key], **over[key]}
    try:
        prices = {str(k): int(v) for k, v in raw["prices"].items()}
        share = {str(k): int(v) for k, v in raw["share"].items()}
    except (TypeError, ValueError):
        raise BadInput("fee schedule: prices and shares are whole numbers (cents, percent)") from None
    if any(v < 0 for v in prices.values()) or any(not 0 <= v <= 100 for v in share.values()):
        raise BadInput("fee schedule: prices are >= 0 and shares between 0 and 100")
    return Schedule(str(raw["name"]), str(raw["currency"]), prices, share)


def months_between(start: date, end: date) -> int:
    """Started months from ``start`` to ``end`` (inclusive): 1 Jan to 31 Jan is 1, to 1 Feb is 2."""
    if end < start:
        raise BadInput("the validity ends before it starts")
    months = (end.year - start.year) * 12 + (end.month - start.month)
    return months + 1 if end.day >= start.day else max(months, 1)


def estimate(schedule: Schedule, org_kind: str, products: int, months: int, compute_hours: int = 0) -> Estimate:
    """What an application will cost: handling, products, months and compute at the schedule's prices, then
    the share the organisation's kind pays (0 % for academic and public research)."""
    if org_kind not in ORG_KINDS:
        raise BadInput(f"organisation kind {org_kind!r}: one of {', '.join(ORG_KINDS)}")
    if products < 0 or months < 0 or compute_hours < 0:
        raise BadInput("products, months and compute hours are >= 0")
    p = schedule.prices
    lines = [
        FeeLine("application", 1, p.get("application", 0), p.get("application", 0)),
        FeeLine("products", products, p.get("per_product", 0), products * p.get("per_product", 0)),
        FeeLine("months", months, p.get("per_month", 0), months * p.get("per_month", 0)),
        FeeLine("compute_hours", compute_hours, p.get("per_compute_hour", 0),
                compute_hours * p.get("per_compute_hour", 0)),
    ]
    priced = sum(ln.amount_cents for ln in lines)
    share = schedule.share.get(org_kind, 100)
    payable = math.ceil(priced * share / 100)
    notes: list[str] = []
    if share < 100:
        lines.append(FeeLine(f"reduction_{org_kind}", 1, payable - priced, payable - priced))
        notes.append("free for academic and public research" if share == 0 else f"{org_kind}: {share} % of the price")
    return Estimate(schedule.name, schedule.currency, org_kind, tuple(lines), payable, tuple(notes))
