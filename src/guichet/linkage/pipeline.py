"""One linkage run on an ``Engine``: inputs bound → deterministic links → stable ids → deaths (three
methods) → links through the key graph. Pure orchestration; persistence is in ``index``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from guichet.engine import Engine
from guichet.linkage import deaths as d
from guichet.linkage import deterministic as det
from guichet.linkage.calibration import Calibration, fit
from guichet.linkage.prepare import PSEUDONYM, prepare
from guichet.linkage.sources import Sources, bind_sources
from guichet.linkage.sqlkit import create_table, rows, scalar

INDEX_SCHEMA = pa.schema([("kind", pa.string()), ("key", pa.string()), ("person_id", pa.string()),
                          ("method", pa.string()), ("confidence", pa.float64())])
DECISIONS_SCHEMA = pa.schema([("cert_table", pa.string()), ("cert_row", pa.int64()), ("person_id", pa.string()),
                              ("decision", pa.string())])


@dataclass
class RunInputs:
    sources: Sources
    previous_index: pa.Table | None = None  # INDEX_SCHEMA
    next_number: int = 1
    decisions: pa.Table | None = None  # DECISIONS_SCHEMA: clerical decisions and labelled pairs
    settings: d.DeathSettings = field(default_factory=d.DeathSettings)
    compare_baselines: bool = True


@dataclass
class RunOutcome:
    persons: int
    next_number: int
    events: list[dict[str, str]]
    links_by_method: dict[str, int]
    unlinked_by_reason: dict[str, dict[str, int]]  # logical table -> reason -> rows
    deaths_in: int
    deaths_matched: dict[str, int]  # method -> certificates matched
    review: list[tuple[Any, ...]]  # (cert_table, cert_row, person_id, p, pc)
    calibration: Calibration
    lineage: dict[str, Any]
    rates: list[dict[str, Any]]  # per source table and year: rows, linked
    review_band: int = 0  # pairs of the review queue in the uncertain band (the rest: the calibration sample)

    @property
    def match_rate(self) -> float:
        return round(self.deaths_matched.get("guichet", 0) / self.deaths_in, 4) if self.deaths_in else 0.0


def _register(engine: Engine, name: str, table: pa.Table) -> None:
    engine.con.register(name + "_arrow", table)
    create_table(engine, name, f"SELECT * FROM {name}_arrow", f"linkage: {name}")
    engine.con.unregister(name + "_arrow")


def run(engine: Engine, inputs: RunInputs) -> RunOutcome:
    present = bind_sources(engine, inputs.sources)
    prepare(engine)
    _register(engine, "lk_prev", inputs.previous_index if inputs.previous_index is not None
              else INDEX_SCHEMA.empty_table())
    _register(engine, "lk_decisions", inputs.decisions if inputs.decisions is not None
              else DECISIONS_SCHEMA.empty_table())
    next_number, events = det.link(engine, inputs.next_number)
    lineage: dict[str, Any] = {}
    settings = inputs.settings
    d.build_features(engine)
    deaths_in = int(scalar(engine, "SELECT count(*) FROM lk_dc", "deaths: certificates") or 0)
    matched: dict[str, int] = {}
    if inputs.compare_baselines:
        matched["baseline_a"] = d.baseline_a(engine)
        lineage["baseline_b"] = d.splink_model(engine, hub_evidence=False, settings=settings, out="lk_death_b",
                                               threshold=settings.plain_threshold).to_dict()
        matched["baseline_b"] = int(scalar(engine, "SELECT count(DISTINCT (cert_table, cert_row)) FROM lk_death_b",
                                           "deaths: baseline B count") or 0)
    else:
        for name in ("lk_death_a", "lk_death_b"):
            create_table(engine, name, "SELECT cast(NULL AS VARCHAR) AS cert_table, cast(NULL AS BIGINT) AS cert_row, "
                         "cast(NULL AS VARCHAR) AS person_id, cast(NULL AS DOUBLE) AS p WHERE false",
                         "deaths: baseline not run")
    lineage["guichet"] = d.splink_model(engine, hub_evidence=True, settings=settings, out="lk_death_g0",
                                        threshold=min(0.01, settings.review_low)).to_dict()
    d.one_to_one(engine, "lk_death_g0", "lk_death_g1", settings.max_rounds)
    labelled = rows(engine, """
        SELECT g.p, l.decision = 'match' FROM lk_death_g0 AS g JOIN lk_decisions AS l
          ON l.cert_table = g.cert_table AND l.cert_row = g.cert_row AND l.person_id = g.person_id""",
                    "deaths: labelled pairs")
    calibration = fit([(float(p), bool(y)) for p, y in labelled])
    d.calibrate(engine, "lk_death_g1", calibration)
    d.apply_decisions(engine, settings, "lk_death_g")
    matched["guichet"] = int(scalar(engine, "SELECT count(*) FROM lk_death_g", "deaths: Guichet count") or 0)
    review = d.review_queue(engine, settings)
    create_table(engine, "lk_review", """
        SELECT g.cert_table, g.cert_row, g.person_id, g.p, g.pc,
               c.sex AS cert_sex, c.birth_year AS cert_birth_year, c.birth_month AS cert_birth_month,
               c.res_com AS cert_residence, c.death_cert AS cert_death_date, c.place AS cert_place,
               p.sex AS person_sex, p.birth_year AS person_birth_year, p.birth_month AS person_birth_month,
               p.res_com AS person_residence, array_to_string(p.res_hist, ' ') AS person_residence_history,
               p.death_claims AS person_death_date_claims, p.hosp_death AS person_hospital_death,
               p.last_care AS person_last_care
        FROM lk_review_queue AS g JOIN lk_dc AS c ON c.cert_table = g.cert_table AND c.cert_row = g.cert_row
        JOIN lk_dp AS p ON p.person_id = g.person_id""", "deaths: review pairs with their evidence")
    create_table(engine, "lk_cert_links", """
        SELECT c._table, c._row, 'KI_CCI_R' AS logical, g.person_id, g.method, g.p AS confidence,
               CASE WHEN g.person_id IS NULL AND b.cert_row IS NOT NULL THEN 'uncertain'
                    WHEN g.person_id IS NULL THEN 'no_match' END AS reason
        FROM lk_certs AS c
        LEFT JOIN lk_death_g AS g ON g.cert_table = c._table AND g.cert_row = c._row
        LEFT JOIN (SELECT DISTINCT cert_table, cert_row FROM lk_death_g1_c WHERE pc >= :low) AS b
          ON b.cert_table = c._table AND b.cert_row = c._row""", "deaths: certificate links",
                 low=settings.review_low)
    engine.execute(d.build(f"INSERT INTO {det.LINKS_TABLE} SELECT {det.LINKS_COLUMNS} FROM lk_cert_links"),
                   purpose="deaths: certificate links")
    det.propagate(engine, present)
    _build_index(engine)
    persons = int(scalar(engine, "SELECT count(DISTINCT person_id) FROM lk_node_person", "persons") or 0)
    by_method = {m: int(n) for m, n in rows(engine, "SELECT method, count(*) FROM lk_links WHERE method IS NOT NULL "
                                            "GROUP BY 1 ORDER BY 1", "links by method")}
    unlinked: dict[str, dict[str, int]] = {}
    for logical, reason, n in rows(engine, "SELECT logical, reason, count(*) FROM lk_links WHERE person_id IS NULL "
                                   "GROUP BY 1, 2 ORDER BY 1, 2", "unlinked by reason"):
        unlinked.setdefault(logical, {})[reason or "unknown"] = int(n)
    rates = [{"table": t, "year": y, "rows": int(n), "linked": int(k)} for t, y, n, k in rows(engine, """
        SELECT logical, coalesce(CAST(year(x.dt) AS VARCHAR), '') AS year, count(*), count(person_id) FROM (
          SELECT l.*, coalesce(s.exit_date, c.care_date, k.death_date) AS dt FROM lk_links AS l
          LEFT JOIN lk_stays AS s ON l.logical = 'T_MCOaaC' AND s._table = l._table AND s._row = l._row
          LEFT JOIN lk_claims AS c ON l.logical = 'ER_PRS_F' AND c._table = l._table AND c._row = l._row
          LEFT JOIN lk_certs AS k ON l.logical = 'KI_CCI_R' AND k._table = l._table AND k._row = l._row) AS x
        GROUP BY 1, 2 ORDER BY 1, 2""", "match rates per source and year")]
    band = sum(1 for r in review if r[5] == "band")
    return RunOutcome(persons, next_number, events, by_method, unlinked, deaths_in, matched, review, calibration,
                      lineage, rates, band)


def _build_index(engine: Engine) -> None:
    create_table(engine, "lk_index", """
        SELECT k.kind, k.key, cp.person_id,
               CASE WHEN s.rights THEN 'rights_change' WHEN k.kind = 'ano' OR s.nodes > 1 THEN 'ano'
                    ELSE 'psa_rank' END AS method,
               CASE WHEN s.rights THEN 0.95 ELSE 1.0 END AS confidence
        FROM lk_comp_keys AS k JOIN lk_comp_person AS cp ON cp.comp = k.comp
        JOIN lk_comp_stats AS s ON s.comp = k.comp
        UNION ALL
        SELECT DISTINCT 'hospital_psa', s.psa, CASE WHEN p.persons = 1 THEN p.person_id END,
               CASE WHEN p.persons = 1 THEN 'hospital_psa' ELSE 'ambiguous_twins' END,
               CASE WHEN p.persons = 1 THEN 1.0 END
        FROM lk_stays AS s JOIN lk_psa_persons AS p ON p.psa = s.psa WHERE s.ret_ok
        UNION ALL
        SELECT DISTINCT 'psa_rank', psa || ':' || rng, cast(NULL AS VARCHAR), 'fictitious_nir', cast(NULL AS DOUBLE)
        FROM lk_ben WHERE fict AND regexp_full_match(psa, :pseudonym)
        UNION ALL
        SELECT 'death_certificate', c.cert_id, g.person_id, g.method, g.p
        FROM lk_death_g AS g JOIN lk_certs AS c ON c._table = g.cert_table AND c._row = g.cert_row""",
                 "linkage: the person index", pseudonym=PSEUDONYM)
