"""The chunk loop: people in fixed-size chunks, each chunk's tables, noise and defects. Pure (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from guichet.synth import defects, nir
from guichet.synth.claims import make_claims
from guichet.synth.hospital import make_stays
from guichet.synth.params import SynthRequest, month_index
from guichet.synth.population import d64, make_persons
from guichet.synth.reference import Reference, reference
from guichet.synth.registry import beneficiaries, certificates, long_term_illnesses
from guichet.synth.rows import Counters, Rows

# People per chunk: fixed, so that a seed gives the same bytes whatever the machine (memory ~100 MB).
CHUNK = 5000
TABLE_ORDER = ("IR_BEN_R", "IR_IMB_R", "ER_PRS_F", "ER_PHA_F", "T_MCOaaB", "T_MCOaaC", "T_MCOaaD", "KI_CCI_R",
               "KI_ECD_R")


@dataclass(frozen=True)
class Plan:
    """What the whole generation covers: flow months, deliveries and the months left out as a defect."""

    first_flow: int  # month index of --start
    last_flow: int  # month index of --end + 18 months
    deliveries: tuple[tuple[int, int], ...]  # inclusive flow-month ranges
    missing_months: tuple[int, ...]  # flow months dropped from ER_PRS_F/ER_PHA_F (dataset-level defect)

    def delivery_of(self, arrival: np.ndarray) -> np.ndarray:
        starts = np.array([a for a, _ in self.deliveries])
        return np.searchsorted(starts, arrival, side="right") - 1


def plan(req: SynthRequest) -> Plan:
    first = month_index(req.start)
    last = first + req.flow_month_count() - 1
    total, k = last - first + 1, req.deliveries
    bounds = [first + (total * i) // k for i in range(k + 1)]
    ranges = tuple((bounds[i], bounds[i + 1] - 1) for i in range(k))
    missing: list[int] = []
    if req.profile.defect_rate > 0 and req.profile.missing_flow_month:
        rng = np.random.default_rng(np.random.SeedSequence([req.seed, 0xF10]))
        for a, b in ranges:
            if b - a >= 2:
                missing.append(int(rng.integers(a + 1, b)))
    return Plan(first, last, ranges, tuple(missing))


def chunks(req: SynthRequest, ref: Reference | None = None) -> Iterator[tuple[int, dict[str, Rows]]]:
    """(people done so far, the tables of one chunk), chunk after chunk."""
    ref = ref or reference()
    pl = plan(req)
    start, end = d64(req.start), d64(req.end)
    alloc = nir.NirAllocator(ref.departements)
    counters = Counters()
    lags = np.array(req.profile.flow_lag) / sum(req.profile.flow_lag)
    gap = next((p.region for p in req.plants if p.kind == "coding_gap"), None)
    prof = req.profile
    for c, first in enumerate(range(0, req.persons, CHUNK)):
        n = min(CHUNK, req.persons - first)
        rng = np.random.default_rng(np.random.SeedSequence([req.seed, c]))
        people = make_persons(rng, first + 1, n, req, ref, alloc, counters.fict)
        counters.fict += int((people.fict_nir != "").sum())
        claims = make_claims(rng, people, start, end, pl.last_flow, lags, prof.claim_lines_per_year, ref, counters)
        stays = make_stays(rng, people, start, end, pl.last_flow, prof, ref, counters, gap)
        certs = certificates(rng, people, start, end, pl.last_flow, prof, ref, counters, req.persons + 1)
        tables = {
            "IR_BEN_R": beneficiaries(rng, people, start, end, prof, ref),
            "IR_IMB_R": long_term_illnesses(rng, people, start, end),
            "ER_PRS_F": claims.prs, "ER_PHA_F": claims.pha,
            "T_MCOaaB": stays.b, "T_MCOaaC": stays.c, "T_MCOaaD": stays.d,
            "KI_CCI_R": certs.cci, "KI_ECD_R": certs.ecd,
        }
        drng = np.random.default_rng(np.random.SeedSequence([req.seed, c, 0xDEF]))
        out = {name: defects.inject(drng, tables[name], prof.defect_rate, req.end) for name in TABLE_ORDER}
        if pl.missing_months:
            for name in ("ER_PRS_F", "ER_PHA_F"):
                rows = out[name]
                out[name] = rows.take(np.flatnonzero(~np.isin(rows.arrival, pl.missing_months)))
        yield first + n, out
