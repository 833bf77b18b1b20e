"""Defect types a producer's new extraction job could introduce, that neither ``synth`` plants nor any other
test injects: the yardstick of the generic (schema- and history-driven) quality checks.

Written before the checks they measure, and kept apart from them: each defect is a SQL rewrite of the
producer's *file* (every cell as text, as the job would write it), never of the typed table, so that
what the deposit parses, quarantines or lets through is part of the test. The checks must not know these
names; ``benchmarks/quality_unseen.py`` scores them at several seeds and sizes, and
``tests/integration/test_quality_unseen.py`` asserts the floor.

Each rewrite reads ``raw`` (all columns VARCHAR, empty cells NULL) and returns the same columns, in the
same order. Dates are ISO text, amounts have a dot and two decimals, as ``synth`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Defect:
    name: str
    table: str
    what: str  # what the producer's job got wrong
    sql: str  # SELECT over ``raw`` (all VARCHAR) returning the file's columns


def _iso(expr: str) -> str:
    return f"strftime({expr}, '%Y-%m-%d')"


CLAIMS: tuple[Defect, ...] = (
    Defect("org_code_leading_zero_lost", "ER_PRS_F",
           "the fund code ORG_CLE_NUM is written as a number: '010280000' becomes '10280000'",
           "SELECT * REPLACE (ltrim(ORG_CLE_NUM, '0') AS ORG_CLE_NUM) FROM raw"),
    Defect("department_two_digits", "ER_PRS_F",
           "the residence department loses its padding: '028' becomes '28' ('02A' becomes '2A')",
           "SELECT * REPLACE (CASE WHEN BEN_RES_DPT LIKE '0%' THEN substr(BEN_RES_DPT, 2) ELSE BEN_RES_DPT END "
           "AS BEN_RES_DPT) FROM raw"),
    Defect("decimal_comma", "ER_PRS_F",
           "amounts written with a decimal comma (a French locale): '26.50' becomes '26,50'",
           "SELECT * REPLACE (replace(PRS_PAI_MNT, '.', ',') AS PRS_PAI_MNT, replace(BSE_REM_MNT, '.', ',') "
           "AS BSE_REM_MNT) FROM raw"),
    Defect("amounts_rounded_to_euros", "ER_PRS_F",
           "amounts cast to whole euros: '26.50' becomes '27'",
           "SELECT * REPLACE (CAST(round(CAST(PRS_PAI_MNT AS DOUBLE)) AS BIGINT)::VARCHAR AS PRS_PAI_MNT, "
           "CAST(round(CAST(BSE_REM_MNT AS DOUBLE)) AS BIGINT)::VARCHAR AS BSE_REM_MNT) FROM raw"),
    Defect("care_dates_one_month_early", "ER_PRS_F",
           "care start and end dates one month early (an off-by-one in a month computation)",
           f"SELECT * REPLACE ({_iso('CAST(EXE_SOI_DTD AS DATE) - INTERVAL 1 MONTH')} AS EXE_SOI_DTD, "
           f"{_iso('CAST(EXE_SOI_DTF AS DATE) - INTERVAL 1 MONTH')} AS EXE_SOI_DTF) FROM raw"),
    Defect("flow_month_as_last_day", "ER_PRS_F",
           "the flow month is written as the last day of the month instead of the first",
           f"SELECT * REPLACE ({_iso('last_day(CAST(FLX_DIS_DTD AS DATE))')} AS FLX_DIS_DTD) FROM raw"),
    Defect("flow_month_one_later", "ER_PRS_F",
           "every flow month one month late (the job dates a flow by its processing month)",
           f"SELECT * REPLACE ({_iso('CAST(FLX_DIS_DTD AS DATE) + INTERVAL 1 MONTH')} AS FLX_DIS_DTD) FROM raw"),
    Defect("sex_as_letters", "ER_PRS_F",
           "sex coded M/F instead of 1/2",
           "SELECT * REPLACE (CASE BEN_SEX_COD WHEN '1' THEN 'M' WHEN '2' THEN 'F' ELSE BEN_SEX_COD END "
           "AS BEN_SEX_COD) FROM raw"),
    Defect("empty_specialty_as_zero", "ER_PRS_F",
           "empty practitioner specialties filled with 0 (the job's default for a missing value)",
           "SELECT * REPLACE (coalesce(PSE_SPE_COD, '0') AS PSE_SPE_COD) FROM raw"),
    Defect("care_end_not_extracted", "ER_PRS_F",
           "the care end date is no longer extracted: the column is empty",
           "SELECT * REPLACE (CAST(NULL AS VARCHAR) AS EXE_SOI_DTF) FROM raw"),
    Defect("care_start_year_day_month", "ER_PRS_F",
           "the care start date written YYYY-DD-MM",
           "SELECT * REPLACE (strftime(CAST(EXE_SOI_DTD AS DATE), '%Y-%d-%m') AS EXE_SOI_DTD) FROM raw"),
    Defect("rank_and_sex_swapped", "ER_PRS_F",
           "the birth rank and sex columns exchanged (both small integer codes)",
           "SELECT * REPLACE (BEN_SEX_COD AS BEN_RNG_GEM, BEN_RNG_GEM AS BEN_SEX_COD) FROM raw"),
    Defect("birth_year_two_digits", "ER_PRS_F",
           "birth years on two digits: '1956' becomes '56'",
           "SELECT * REPLACE (right(BEN_NAI_ANN, 2) AS BEN_NAI_ANN) FROM raw"),
    Defect("paid_amount_sign_flipped", "ER_PRS_F",
           "paid amounts written as debits (negative)",
           "SELECT * REPLACE (CASE WHEN PRS_PAI_MNT IS NULL THEN NULL ELSE "
           "printf('%.2f', -CAST(PRS_PAI_MNT AS DOUBLE)) END AS PRS_PAI_MNT) FROM raw"),
    Defect("base_amount_copied_from_paid", "ER_PRS_F",
           "the reimbursement base filled from the paid amount column (one source column mapped twice)",
           "SELECT * REPLACE (PRS_PAI_MNT AS BSE_REM_MNT) FROM raw"),
    Defect("one_flow_month_amounts_zero", "ER_PRS_F",
           "amounts of one flow month (the busiest) written as 0.00 (a failed join to the price table)",
           "SELECT * REPLACE (CASE WHEN FLX_DIS_DTD = (SELECT FLX_DIS_DTD FROM raw GROUP BY 1 ORDER BY count(*) DESC, 1 "
           "LIMIT 1) THEN '0.00' ELSE PRS_PAI_MNT END AS PRS_PAI_MNT, CASE WHEN FLX_DIS_DTD = (SELECT FLX_DIS_DTD "
           "FROM raw GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) THEN '0.00' ELSE BSE_REM_MNT END AS BSE_REM_MNT) "
           "FROM raw"),
    Defect("flow_months_cut_short", "ER_PRS_F",
           "the extraction stopped early: only the first 12 flow months are delivered",
           "SELECT * FROM raw WHERE CAST(FLX_DIS_DTD AS DATE) < (SELECT min(CAST(FLX_DIS_DTD AS DATE)) FROM raw) "
           "+ INTERVAL 12 MONTH"),
    Defect("one_flow_month_twice", "ER_PRS_F",
           "one flow month (the busiest) extracted twice",
           "SELECT * FROM raw UNION ALL SELECT * FROM raw WHERE FLX_DIS_DTD = (SELECT FLX_DIS_DTD FROM raw "
           "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)"),
)

PHARMACY: tuple[Defect, ...] = (
    Defect("cip7_in_cip13_column", "ER_PHA_F",
           "the 7-digit CIP code written in the 13-digit CIP column",
           "SELECT * REPLACE (PHA_PRS_IDE AS PHA_PRS_C13) FROM raw"),
    Defect("quantity_zero_based", "ER_PHA_F",
           "dispensed quantities counted from 0 (a loop index exported)",
           "SELECT * REPLACE ((CAST(PHA_ACT_QSN AS BIGINT) - 1)::VARCHAR AS PHA_ACT_QSN) FROM raw"),
    Defect("unit_price_is_line_total", "ER_PHA_F",
           "the unit price column holds the line total (price x quantity)",
           "SELECT * REPLACE (printf('%.2f', CAST(PHA_ACT_PRU AS DOUBLE) * CAST(PHA_ACT_QSN AS DOUBLE)) "
           "AS PHA_ACT_PRU) FROM raw"),
    Defect("org_code_spaced", "ER_PHA_F",
           "the fund code grouped with spaces: '010280000' becomes '01 028 0000'",
           "SELECT * REPLACE (substr(ORG_CLE_NUM, 1, 2) || ' ' || substr(ORG_CLE_NUM, 3, 3) || ' ' || "
           "substr(ORG_CLE_NUM, 6) AS ORG_CLE_NUM) FROM raw"),
    Defect("treatment_date_as_flow_month", "ER_PHA_F",
           "the treatment date replaced by the flow month (two date columns mapped to one source)",
           "SELECT * REPLACE (FLX_DIS_DTD AS FLX_TRT_DTD) FROM raw"),
)

DEFECTS: dict[str, Defect] = {d.name: d for d in CLAIMS + PHARMACY}


def inject(defect: Defect, clean: Path, out: Path, delimiter: str = ";") -> int:
    """Write ``out``: the file ``clean`` with ``defect`` applied to its text. Returns the rows written."""
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute("CREATE TABLE raw AS SELECT * FROM read_csv(?, delim = ?, header = true, all_varchar = true)",
                    [str(clean), delimiter])
        con.execute(f"CREATE TABLE dirty AS {defect.sql}")
        rows = con.execute("SELECT count(*) FROM dirty").fetchone()
        escaped = str(out).replace("'", "''")
        con.execute(f"COPY dirty TO '{escaped}' (HEADER, DELIMITER '{delimiter}')")
        return int(rows[0]) if rows else 0
    finally:
        con.close()
