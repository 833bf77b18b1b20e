"""Canonical linkage tables from the ``raw_*`` views (see ``sources``): typed, trimmed, sentinels removed.

- ``lk_ben``    one row per beneficiary row (``IR_BEN_R``): psa, rank, ano, fictitious flag, sex, birth
  year and month, residence, death date (the sentinel 1600-01-01 read as unknown);
- ``lk_claims`` one row per claim line (``ER_PRS_F``): psa, rank, fictitious flag, care date, sex, birth
  year, residence;
- ``lk_stays``  one row per hospital stay (``T_MCOaaC`` with its ``T_MCOaaB`` exit mode): hospital
  pseudonym, return codes all ``0``, entry and exit dates, exit mode (``SOR_MOD = 9``: death);
- ``lk_certs``  one row per death certificate (``KI_CCI_R``).
"""

from __future__ import annotations

import datetime as dt

from guichet.engine import Engine
from guichet.linkage.sqlkit import create_table

SENTINEL = dt.date(1600, 1, 1)
PSEUDONYM = "[A-Z2-7]{17}"  # level-1 and hub pseudonyms (17 characters, like BEN_NIR_PSA)


def date_sql(col: str) -> str:
    """A date column delivered as ``YYYY-MM-DD`` (or typed) or ``DDMMYYYY`` (PMSI)."""
    ddmmyyyy = f"substr({col}, 5, 4) || '-' || substr({col}, 3, 2) || '-' || substr({col}, 1, 2)"
    return (f"coalesce(try_cast({col} AS DATE), "
            f"CASE WHEN regexp_full_match({col}, '[0-9]{{8}}') THEN try_cast({ddmmyyyy} AS DATE) END)")


def _txt(col: str) -> str:
    return f"nullif(trim({col}), '')"


def prepare(engine: Engine) -> None:
    create_table(engine, "lk_ben", f"""
        SELECT _table, _row,
               {_txt('BEN_NIR_PSA')} AS psa, coalesce(try_cast(BEN_RNG_GEM AS INTEGER), 0) AS rng,
               {_txt('BEN_NIR_ANO')} AS ano,
               coalesce({_txt('BEN_CDI_NIR')}, '00') NOT IN ('00', '0') AS fict,
               try_cast(BEN_SEX_COD AS INTEGER) AS sex, try_cast(BEN_NAI_ANN AS INTEGER) AS birth_year,
               try_cast(BEN_NAI_MOI AS INTEGER) AS birth_month,
               {_txt('BEN_RES_DPT')} AS res_dpt, {_txt('BEN_RES_COM')} AS res_com,
               nullif({date_sql('BEN_DCD_DTE')}, :sentinel) AS death_date,
               {date_sql('BEN_DCD_DTE')} = :sentinel AS death_sentinel
        FROM raw_IR_BEN_R""", "linkage: beneficiaries", sentinel=SENTINEL)
    create_table(engine, "lk_claims", f"""
        SELECT _table, _row,
               {_txt('BEN_NIR_PSA')} AS psa, coalesce(try_cast(BEN_RNG_GEM AS INTEGER), 0) AS rng,
               coalesce({_txt('BEN_CDI_NIR')}, '00') NOT IN ('00', '0') AS fict,
               {date_sql('EXE_SOI_DTD')} AS care_date,
               try_cast(BEN_SEX_COD AS INTEGER) AS sex, try_cast(BEN_NAI_ANN AS INTEGER) AS birth_year,
               {_txt('BEN_RES_DPT')} AS res_dpt, {_txt('BEN_RES_COM')} AS res_com
        FROM raw_ER_PRS_F""", "linkage: claims")
    # delivered as 0/1 text, or typed boolean in the lake (read as 'false'/'true')
    ret_ok = " AND ".join(f"coalesce(trim({c}), '0') IN ('0', 'false')" for c in
                          ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET"))
    create_table(engine, "lk_stays", f"""
        SELECT c._table, c._row, c._year, {_txt('c.NIR_ANO_17')} AS psa,
               trim(c.ETA_NUM) AS eta, trim(c.RSA_NUM) AS rsa, {ret_ok} AS ret_ok,
               {date_sql('c.ENT_DAT')} AS entry_date, {date_sql('c.SOR_DAT')} AS exit_date,
               b.exit_mode
        FROM raw_T_MCOaaC AS c
        LEFT JOIN (SELECT _year, trim(ETA_NUM) AS eta, trim(RSA_NUM) AS rsa, any_value(trim(SOR_MOD)) AS exit_mode
                   FROM raw_T_MCOaaB GROUP BY 1, 2, 3) AS b
          ON b._year IS NOT DISTINCT FROM c._year AND b.eta = trim(c.ETA_NUM) AND b.rsa = trim(c.RSA_NUM)""",
                 "linkage: hospital stays")
    create_table(engine, "lk_certs", f"""
        SELECT _table, _row, coalesce({_txt('DCD_IDT_ENC')}, _table || ':' || _row) AS cert_id,
               try_cast(BEN_SEX_COD AS INTEGER) AS sex, try_cast(BEN_NAI_ANN AS INTEGER) AS birth_year,
               try_cast(BEN_NAI_MOI AS INTEGER) AS birth_month,
               {_txt('BEN_RES_DPT')} AS res_dpt, {_txt('BEN_RES_COM')} AS res_com,
               nullif({date_sql('BEN_DCD_DTE')}, :sentinel) AS death_date,
               {_txt('DCD_LIE_COD')} AS place
        FROM raw_KI_CCI_R""", "linkage: death certificates", sentinel=SENTINEL)
