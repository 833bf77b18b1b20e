"""Death certificates matched on quasi-identifiers: three methods, side by side.

- **Baseline A — the CépiDC procedure** (as used to link the causes of death to the SNDS): the exact
  agreement of every criterion (sex, birth year, birth month, commune of residence, death date), then of
  all but one — the death *year* always required — keeping one-to-one pairs only at each step; the
  claims' death date, or the exit date of a stay ending in death (``SOR_MOD = 9``) when the claims date is
  the sentinel.
- **Baseline B — plain Splink**: the same blocking and comparisons, without the hub's evidence,
  Fellegi–Sunter parameters trained by EM (u by seeded random sampling), pairs above 0.5 kept.
- **Guichet**: Splink with the evidence only a hub has — an in-hospital death (a stay ending in death on or
  near the certificate's date), the end of claims at death (care more than a day after it is impossible),
  the residence history — then one-to-one resolution, probabilities calibrated on labelled pairs, and a
  clerical-review band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guichet.engine import Engine
from guichet.linkage.calibration import EDGES, Calibration
from guichet.linkage.splinkrun import SplinkLineage, capture_sql
from guichet.linkage.sqlkit import build, create_table, rows, scalar

__all__ = ["build"]


@dataclass(frozen=True)
class DeathSettings:
    seed: int = 20240101
    u_max_pairs: float = 2e6
    accept: float = 0.5  # calibrated probability from which a pair is linked
    review_low: float = 0.2  # [review_low, review_high): the uncertain band, sent to clerical review
    review_high: float = 0.9
    calibration_sample: int = 3  # pairs per probability bin outside the band, also queued: labels for every bin
    plain_threshold: float = 0.5
    max_rounds: int = 8  # one-to-one resolution: rounds of mutual best pairs


# ---- features ------------------------------------------------------------------------------------------

def build_features(engine: Engine) -> None:
    """``lk_dp`` (one row per person) and ``lk_dc`` (one row per certificate), with the same columns.

    Every person of the index is a candidate, not only those with a beneficiary row in the data: a person
    whose beneficiary row was quarantined (a defect of its own) or is missing from the extraction is still
    known from their claims, which carry sex, birth year and département. Their birth month and commune
    are then unknown (NULL), which the comparisons treat as such. The claims' end is kept as the last two
    days of care, so that one isolated claim dated after the death (post-mortem billing, a mistyped date)
    is not read as care after it."""
    create_table(engine, "lk_person_ben", """
        SELECT np.person_id, b.* FROM lk_ben AS b
        JOIN lk_node_person AS np ON np.psa = b.psa AND np.rng = b.rng WHERE NOT b.fict""",
                 "linkage: beneficiary rows per person")
    create_table(engine, "lk_dp", """
        WITH ben AS (
          SELECT person_id, mode(sex) AS sex, mode(birth_year) AS birth_year, mode(birth_month) AS birth_month,
                 arg_max(res_dpt, _row) AS res_dpt,
                 arg_max(res_dpt || ':' || res_com, _row) AS res_com,
                 max(death_date) AS death_claims
          FROM lk_person_ben GROUP BY person_id),
        care AS (  -- a claim's person is its node's (as in lk_claim_links): no join over the row links
          SELECT np.person_no, max(c.care_date) AS last_care, mode(c.sex) AS sex, mode(c.birth_year) AS birth_year,
                 arg_max(c.res_dpt, c.care_date) FILTER (WHERE c.res_dpt IS NOT NULL) AS res_dpt,
                 arg_max(c.res_dpt || ':' || c.res_com, c.care_date) FILTER (WHERE c.res_com IS NOT NULL) AS res_com,
                 list(DISTINCT c.res_dpt || ':' || c.res_com) AS hist
          FROM lk_claims AS c JOIN lk_node_person AS np ON np.psa = c.psa AND np.rng = c.rng
          WHERE NOT c.fict GROUP BY np.person_no),
        before_last AS (  -- the day of care before the last one
          SELECT np.person_no, max(c.care_date) AS last_care_2
          FROM lk_claims AS c JOIN lk_node_person AS np ON np.psa = c.psa AND np.rng = c.rng
          JOIN care ON care.person_no = np.person_no
          WHERE NOT c.fict AND c.care_date < care.last_care GROUP BY np.person_no),
        hosp AS (
          SELECT l.person_id, max(s.exit_date) AS hosp_death
          FROM lk_stays AS s JOIN lk_row_links AS l ON l._table = s._table AND l._row = s._row
          WHERE l.person_id IS NOT NULL AND s.exit_mode = '9' GROUP BY l.person_id),
        persons AS (SELECT DISTINCT person_no, person_id FROM lk_node_person)
        SELECT 'p' || persons.person_id AS uid, persons.person_id,
               coalesce(ben.sex, care.sex) AS sex, coalesce(ben.birth_year, care.birth_year) AS birth_year,
               CASE WHEN ben.birth_year IS NOT NULL THEN ben.birth_month END AS birth_month,
               coalesce(ben.res_dpt, care.res_dpt) AS res_dpt,
               CASE WHEN ben.res_dpt IS NOT NULL THEN ben.res_com ELSE care.res_com END AS res_com,
               list_distinct(list_append(coalesce(care.hist, []), ben.res_com)) AS res_hist,
               ben.death_claims, hosp.hosp_death, care.last_care, before_last.last_care_2,
               coalesce(ben.death_claims, hosp.hosp_death) AS death_known,
               cast(NULL AS DATE) AS death_cert, cast(NULL AS VARCHAR) AS place,
               cast(NULL AS VARCHAR) AS cert_table, cast(NULL AS BIGINT) AS cert_row
        FROM persons LEFT JOIN ben ON ben.person_id = persons.person_id
        LEFT JOIN care ON care.person_no = persons.person_no
        LEFT JOIN before_last ON before_last.person_no = persons.person_no
        LEFT JOIN hosp ON hosp.person_id = persons.person_id""", "linkage: person features for deaths")
    create_table(engine, "lk_dc", """
        SELECT 'c' || _table || ':' || _row AS uid, cast(NULL AS VARCHAR) AS person_id, sex, birth_year,
               birth_month, res_dpt, res_dpt || ':' || res_com AS res_com, [res_dpt || ':' || res_com] AS res_hist,
               cast(NULL AS DATE) AS death_claims, cast(NULL AS DATE) AS hosp_death,
               cast(NULL AS DATE) AS last_care, cast(NULL AS DATE) AS last_care_2, death_date AS death_known,
               death_date AS death_cert, place,
               _table AS cert_table, _row AS cert_row
        FROM lk_certs""", "linkage: certificate features")


# ---- baseline A: the CépiDC procedure ------------------------------------------------------------------

CRITERIA = ("sex", "birth_year", "birth_month", "res_com", "death_known")


def baseline_a(engine: Engine) -> int:
    """Deterministic, one-to-one; result in ``lk_death_a(cert_table, cert_row, person_id, p)``."""
    full = " AND ".join(f"p.{c} = c.{c}" for c in CRITERIA)
    create_table(engine, "lk_a1", f"""
        SELECT c.cert_table, c.cert_row, p.person_id FROM lk_dc AS c JOIN lk_dp AS p ON {full}""",
                 "death baseline A: all criteria")
    _one_to_one_exact(engine, "lk_a1", "lk_a1u")
    parts = []
    for dropped in CRITERIA:
        cond = " AND ".join(f"p.{c} = c.{c}" for c in CRITERIA if c != dropped)
        parts.append(f"""SELECT c.cert_table, c.cert_row, p.person_id FROM lk_dc AS c JOIN lk_dp AS p
            ON {cond} AND year(p.death_known) = year(c.death_known)
            WHERE c.uid NOT IN (SELECT 'c' || cert_table || ':' || cert_row FROM lk_a1u)
              AND p.person_id NOT IN (SELECT person_id FROM lk_a1u)""")
    create_table(engine, "lk_a2", " UNION ".join(parts), "death baseline A: all but one criterion")
    _one_to_one_exact(engine, "lk_a2", "lk_a2u")
    create_table(engine, "lk_death_a", """
        SELECT cert_table, cert_row, person_id, 1.0 AS p FROM lk_a1u
        UNION ALL SELECT cert_table, cert_row, person_id, 1.0 AS p FROM lk_a2u""", "death baseline A: links")
    return int(scalar(engine, "SELECT count(*) FROM lk_death_a", "death baseline A: count") or 0)


def _one_to_one_exact(engine: Engine, pairs: str, out: str) -> None:
    create_table(engine, out, f"""
        SELECT cert_table, cert_row, person_id FROM {pairs}
        QUALIFY count(*) OVER (PARTITION BY cert_table, cert_row) = 1
            AND count(*) OVER (PARTITION BY person_id) = 1""", "death baseline A: one-to-one")


# ---- Splink models ---------------------------------------------------------------------------------------

MONTH_UNKNOWN = "same birth year, birth month unknown"
COMMUNE_UNKNOWN = "same département, commune unknown"
# A level that only says part of what others say (a birth month or a commune missing on one side) weighs
# what those levels weigh together: its m and u are their sums (see ``_marginalise``), not trained apart.
MARGINAL_LEVELS = {MONTH_UNKNOWN: ("same birth month", "same birth year"),
                   COMMUNE_UNKNOWN: ("same commune", "a commune of the residence history", "same département")}


def _level(sql: str, label: str, null: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        d["is_null_level"] = True
    if label in MARGINAL_LEVELS:  # neutral (m = u) and left alone while training; see _marginalise
        d.update(m_probability=0.01, u_probability=0.01, fix_m_probability=True, fix_u_probability=True)
    return d


def comparisons(hub_evidence: bool) -> list[Any]:
    import splink.comparison_library as cl

    days = "abs(datediff('day', {a}, death_cert_r))"
    res_levels: list[Any] = [_level("res_dpt_l IS NULL OR res_dpt_r IS NULL", "residence unknown", True),
                             _level("res_com_l = res_com_r", "same commune")]
    if hub_evidence:
        res_levels.append(_level("list_contains(res_hist_l, res_com_r)", "a commune of the residence history"))
    res_levels += [_level("res_dpt_l = res_dpt_r AND (res_com_l IS NULL OR res_com_r IS NULL)", COMMUNE_UNKNOWN),
                   _level("res_dpt_l = res_dpt_r", "same département"), _level("ELSE", "elsewhere")]
    found = [
        cl.CustomComparison([_level("sex_l IS NULL OR sex_r IS NULL", "sex unknown", True),
                             _level("sex_l = sex_r", "same sex"), _level("ELSE", "other sex")],
                            output_column_name="sex"),
        cl.CustomComparison([
            _level("birth_year_l IS NULL OR birth_year_r IS NULL", "birth unknown", True),
            _level("birth_year_l = birth_year_r AND birth_month_l = birth_month_r", "same birth month"),
            _level("birth_year_l = birth_year_r AND (birth_month_l IS NULL OR birth_month_r IS NULL)",
                   MONTH_UNKNOWN),
            _level("birth_year_l = birth_year_r", "same birth year"),
            _level("abs(birth_year_l - birth_year_r) <= 1", "birth year ±1"),
            _level("ELSE", "other birth")], output_column_name="birth"),
        cl.CustomComparison(res_levels, output_column_name="residence"),
        cl.CustomComparison([
            _level("death_claims_l IS NULL OR death_cert_r IS NULL", "no death date in the claims", True),
            _level("death_claims_l = death_cert_r", "same death date"),
            _level(days.format(a="death_claims_l") + " <= 1", "death date ±1 day"),
            _level(days.format(a="death_claims_l") + " <= 31", "death date within a month"),
            _level("ELSE", "other death date")], output_column_name="death_date"),
    ]
    if hub_evidence:
        found += [
            cl.CustomComparison([
                _level("hosp_death_l IS NOT NULL AND " + days.format(a="hosp_death_l") + " <= 1",
                       "died in hospital on the date (±1 day)"),
                _level("hosp_death_l IS NOT NULL AND " + days.format(a="hosp_death_l") + " <= 7",
                       "died in hospital within a week"),
                _level("hosp_death_l IS NOT NULL", "died in hospital at another date"),
                _level("place_r IN ('2', '3')", "certificate in hospital, no stay ending in death"),
                _level("ELSE", "no stay ending in death")], output_column_name="hospital_death"),
            cl.CustomComparison([
                _level("last_care_l IS NULL", "no claims"),
                # care on two days after the death, or on the only day of care there is
                _level("datediff('day', death_cert_r, coalesce(last_care_2_l, last_care_l)) > 1",
                       "care after the death"),
                # the last day of care, not counting one isolated day after the death
                _level("datediff('day', death_cert_r, CASE WHEN datediff('day', death_cert_r, last_care_l) > 1 "
                       "THEN last_care_2_l ELSE last_care_l END) >= -90", "claims end at the death"),
                _level("ELSE", "claims end long before")], output_column_name="claims_end"),
        ]
    return found


BLOCK_BIRTH = "l.sex = r.sex AND l.birth_year = r.birth_year AND l.birth_month = r.birth_month"
BLOCK_DEATH = "l.death_claims = r.death_cert AND l.sex = r.sex"
BLOCK_HOSP = "l.hosp_death = r.death_cert"
# persons whose birth month is unknown (known from their claims only) or misread on the certificate
BLOCK_PLACE = "l.sex = r.sex AND l.birth_year = r.birth_year AND l.res_dpt = r.res_dpt"


def _train_em(linker: Any, rule: str, lineage: SplinkLineage) -> None:
    """One EM session; a session Splink cannot finish leaves the model as it was before it.

    Splink gives up in two ways on small or lopsided deliveries: too few pairs under the training rule
    (``EMTrainingException``), or an m probability driven to exactly 0 by a level that no pair of the
    sample reaches (``ValueError`` from its setter, e.g. a ``hard`` delivery of 1,500 persons). Splink
    mutates the linker's model in place while it trains, so the model is restored from a copy: the
    comparisons that session would have trained keep the values they had (the u estimates and Splink's
    default m values). Skipped sessions are counted in the lineage record (``em_skipped``)."""
    from splink.internals.exceptions import EMTrainingException

    saved = linker._settings_obj.core_model_settings.copy()
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    except (EMTrainingException, ValueError) as exc:
        if isinstance(exc, ValueError) and "probability" not in str(exc):
            raise
        linker._settings_obj.core_model_settings = saved
        lineage.seeds["em_skipped"] = int(lineage.seeds.get("em_skipped", 0)) + 1


def _marginalise(linker: Any) -> None:
    """Give each level of ``MARGINAL_LEVELS`` the summed m and u of the levels it stands for: when one
    side's birth month is unknown, a true pair shows "same birth year" as often as it shows "same birth
    month" or "same year, other month" — no more, no less. Trained apart, such levels would rest on the few
    persons known from their claims alone, and on none in a small delivery."""
    for comparison in linker._settings_obj.comparisons:
        levels = {lv.label_for_charts: lv for lv in comparison.comparison_levels if not lv.is_null_level}
        for label, parts in MARGINAL_LEVELS.items():
            if label not in levels:
                continue
            for attr in ("m_probability", "u_probability"):
                values = [getattr(levels[p], attr) for p in parts if p in levels]
                total = sum(v for v in values if isinstance(v, float | int))
                if total > 0:
                    setattr(levels[label], attr, min(1.0, float(total)))


def splink_model(engine: Engine, *, hub_evidence: bool, settings: DeathSettings, out: str,
                 threshold: float) -> SplinkLineage:
    """Train and predict; predictions land in ``out(cert_table, cert_row, person_id, p)``."""
    from splink import DuckDBAPI, Linker, SettingsCreator

    name = "guichet" if hub_evidence else "plain"
    lineage = SplinkLineage(model=name, seeds={"u_random_sampling": settings.seed})
    n_persons = int(scalar(engine, "SELECT count(*) FROM lk_dp", "deaths: persons") or 0)
    n_certs = int(scalar(engine, "SELECT count(*) FROM lk_dc", "deaths: certificates") or 0)
    if n_persons == 0 or n_certs == 0:
        create_table(engine, out, "SELECT cast(NULL AS VARCHAR) AS cert_table, cast(NULL AS BIGINT) AS cert_row, "
                     "cast(NULL AS VARCHAR) AS person_id, cast(NULL AS DOUBLE) AS p WHERE false", "deaths: empty")
        return lineage
    blocking: list[Any] = [BLOCK_BIRTH, BLOCK_DEATH, BLOCK_PLACE] + ([BLOCK_HOSP] if hub_evidence else [])
    creator = SettingsCreator(
        link_type="link_only", unique_id_column_name="uid", comparisons=comparisons(hub_evidence),
        blocking_rules_to_generate_predictions=blocking,
        probability_two_random_records_match=min(0.5, 0.95 / max(n_persons, 1)),
        additional_columns_to_retain=["person_id", "cert_table", "cert_row"],
        retain_matching_columns=False, linker_uid=f"guichet_{name}")
    db = DuckDBAPI(engine.con)
    with capture_sql(lineage):
        linker = Linker([db.register("lk_dp", table_name=f"a_persons_{name}"),
                         db.register("lk_dc", table_name=f"b_certificates_{name}")], creator, log_level=None,
                        validate_settings=True)
        linker.training.estimate_u_using_random_sampling(max_pairs=settings.u_max_pairs, seed=settings.seed)
        for rule in (BLOCK_BIRTH, BLOCK_DEATH):
            _train_em(linker, rule, lineage)
        _marginalise(linker)
        predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        # persons are the first input, so the left side of every pair (checked, not assumed)
        create_table(engine, out, f"""
            SELECT coalesce(cert_table_r, cert_table_l) AS cert_table, coalesce(cert_row_r, cert_row_l) AS cert_row,
                   coalesce(person_id_l, person_id_r) AS person_id, match_probability AS p
            FROM {predictions.physical_name}""", f"deaths: {name} predictions")
        lineage.parameters = linker.misc.save_model_to_json()
        predictions.drop_table_from_database_and_remove_from_cache()
    return lineage


# ---- one-to-one resolution, calibration, review band ------------------------------------------------------

def one_to_one(engine: Engine, pairs: str, out: str, rounds: int) -> None:
    """Rounds of *mutual best* pairs (best for the certificate and for the person), removing both each
    round: the greedy assignment by decreasing probability, in a few set operations."""
    create_table(engine, out, "SELECT cert_table, cert_row, person_id, p FROM " + pairs + " WHERE false",
                 "deaths: one-to-one (start)")
    create_table(engine, "lk_o2o_left", f"SELECT * FROM {pairs}", "deaths: one-to-one candidates")
    for i in range(rounds):
        create_table(engine, "lk_o2o_best", """
            SELECT cert_table, cert_row, person_id, p FROM lk_o2o_left
            QUALIFY row_number() OVER (PARTITION BY cert_table, cert_row ORDER BY p DESC, person_id) = 1
                AND row_number() OVER (PARTITION BY person_id ORDER BY p DESC, cert_table, cert_row) = 1""",
                     f"deaths: one-to-one round {i + 1}")
        got = int(scalar(engine, "SELECT count(*) FROM lk_o2o_best", "deaths: round size") or 0)
        if got == 0:
            break
        engine.execute(build(f"INSERT INTO {out} SELECT * FROM lk_o2o_best"), purpose="deaths: keep round")
        create_table(engine, "lk_o2o_left", """
            SELECT * FROM lk_o2o_left AS l
            WHERE NOT EXISTS (SELECT 1 FROM lk_o2o_best AS b WHERE b.cert_table = l.cert_table AND b.cert_row = l.cert_row)
              AND NOT EXISTS (SELECT 1 FROM lk_o2o_best AS b WHERE b.person_id = l.person_id)""",
                     "deaths: one-to-one remaining")


def calibrate(engine: Engine, table: str, calibration: Calibration) -> None:
    """Add ``pc`` (calibrated probability) to ``table`` through the calibration's bins."""
    from sqlglot import exp

    from guichet.engine import literal

    p = exp.column("p")
    value: exp.Expression = p
    cuts = calibration.as_rows()
    if cuts:
        value = exp.Case(ifs=[exp.If(this=exp.LT(this=p.copy(), expression=literal(hi)), true=literal(v))
                              for hi, v in cuts], default=p.copy())
    select = exp.select(exp.Star(), exp.alias_(value, "pc")).from_(table)
    engine.execute(exp.Create(this=exp.to_table(table + "_c"), kind="TABLE", replace=True,
                              properties=exp.Properties(expressions=[exp.TemporaryProperty()]), expression=select),
                   purpose="deaths: calibration")


def apply_decisions(engine: Engine, settings: DeathSettings, out: str) -> None:
    """Links = calibrated ≥ accept, unless a clerical decision says otherwise (``lk_decisions``)."""
    create_table(engine, out, """
        SELECT g.cert_table, g.cert_row, g.person_id, g.pc AS p,
               CASE WHEN d.decision = 'match' THEN 'clerical_review' ELSE 'death_probabilistic' END AS method
        FROM lk_death_g1_c AS g
        LEFT JOIN lk_decisions AS d ON d.cert_table = g.cert_table AND d.cert_row = g.cert_row
                                   AND d.person_id = g.person_id
        WHERE (g.pc >= :accept AND coalesce(d.decision, '') <> 'non_match') OR d.decision = 'match'""",
                 "deaths: Guichet links", accept=settings.accept)


def review_queue(engine: Engine, settings: DeathSettings) -> list[tuple[Any, ...]]:
    """The clerical-review queue: every pair of the uncertain band, plus a calibration sample — up to
    ``calibration_sample`` pairs of each predicted-probability bin (calibration.EDGES) outside the band,
    chosen by a seeded hash. Decisions on the band alone would label only the bins it covers; the sample
    gives the reliability curve and the calibration map labels across the whole range."""
    bins = " ".join(f"WHEN p < {hi!r} THEN {i}" for i, hi in enumerate(EDGES[1:]))
    create_table(engine, "lk_review_queue", f"""
        WITH c AS (
          SELECT cert_table, cert_row, person_id, p, pc, CASE {bins} ELSE {len(EDGES) - 2} END AS bin,
                 pc >= :low AND pc < :high AS band
          FROM lk_death_g1_c),
        sample AS (
          SELECT cert_table, cert_row, person_id, p, pc FROM c WHERE NOT band
          QUALIFY row_number() OVER (PARTITION BY bin ORDER BY hash(cert_table, cert_row, person_id, {int(settings.seed)}),
                                     cert_table, cert_row) <= :k)
        SELECT cert_table, cert_row, person_id, p, pc, 'band' AS why FROM c WHERE band
        UNION ALL SELECT cert_table, cert_row, person_id, p, pc, 'calibration' AS why FROM sample""",
                 "deaths: review band and calibration sample",
                 low=settings.review_low, high=settings.review_high, k=settings.calibration_sample)
    return rows(engine, "SELECT cert_table, cert_row, person_id, p, pc, why FROM lk_review_queue "
                "ORDER BY pc, cert_table, cert_row", "deaths: review queue")
