"""The clerical-review queue: pairs (certificate, person) in the uncertain band. What an operator sees of a
pair is what the decision needs — the quasi-identifiers and the hub's evidence on both sides, never a
pseudonym — read from the encrypted index run and the inputs of that run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guichet.errors import BadInput, NotFound
from guichet.linkage.tables import ReviewPair

DECISIONS = ("match", "non_match")


@dataclass(frozen=True)
class PairSummary:
    id: int
    version: int
    probability: float
    calibrated: float
    status: str
    decided_by: str | None
    why: str  # band: the probability is in the uncertain band; calibration: a sample of its probability bin

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summary(p: ReviewPair) -> PairSummary:
    return PairSummary(p.id, p.version, round(p.probability, 4), round(p.calibrated, 4), p.status, p.decided_by,
                       p.why or "band")


def open_pairs(session: Session, status: str = "open") -> list[PairSummary]:
    q = select(ReviewPair).order_by(ReviewPair.calibrated.desc(), ReviewPair.id)
    if status != "all":
        q = q.where(ReviewPair.status == status)
    return [summary(p) for p in session.execute(q).scalars()]


def open_counts(session: Session) -> dict[str, int]:
    counts = {"band": 0, "calibration": 0}
    for why, n in session.execute(select(ReviewPair.why, func.count()).where(ReviewPair.status == "open")
                                  .group_by(ReviewPair.why)).all():
        counts[why or "band"] = counts.get(why or "band", 0) + int(n)
    return counts


def get_pair(session: Session, pair_id: int) -> ReviewPair:
    p = session.get(ReviewPair, pair_id)
    if p is None:
        raise NotFound(f"review pair {pair_id}: not in the queue")
    return p


def check_decision(decision: str) -> None:
    if decision not in DECISIONS:
        raise BadInput(f"--decision: one of {', '.join(DECISIONS)}")
