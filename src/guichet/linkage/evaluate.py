"""Scoring links against a synthetic delivery's truth (``truth/persons.csv``, ``truth/defects.csv``).

Counted over rows *without a recorded defect* (a ``death_date_sentinel`` is noise the linkage must cope
with, not a defect of the row, so it does not exclude it). Each person id stands for the true person most
of its beneficiary, claim and stay rows belong to. For a group of tables (claims, hospital, deaths):
a linked row is correct when its person stands for the row's true person; precision = correct / linked;
recall = correct / rows whose true person is in the beneficiary population (a certificate of someone
outside it can only be a false link); F1 their harmonic mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from guichet.engine import Engine, SourceBinding, csv_source
from guichet.errors import BadInput
from guichet.linkage.sqlkit import create_table, rows

GROUPS: dict[str, tuple[str, ...]] = {
    "claims": ("ER_PRS_F", "ER_PHA_F", "IR_IMB_R"),
    "hospital": ("T_MCOaaC", "T_MCOaaB", "T_MCOaaD"),
    "deaths": ("KI_CCI_R", "KI_ECD_R"),
    "beneficiaries": ("IR_BEN_R",),
}
NOT_DEFECTS = ("death_date_sentinel",)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    linked: int
    correct: int
    linkable: int

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "linked": self.linked,
                "correct": self.correct, "linkable": self.linkable}


def score(linked: int, correct: int, linkable: int) -> Score:
    p = correct / linked if linked else 0.0
    r = correct / linkable if linkable else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Score(round(p, 4), round(r, 4), round(f, 4), linked, correct, linkable)


def bind_truth(engine: Engine, truth: Path) -> None:
    truth = Path(truth)
    persons, defects = truth / "persons.csv", truth / "defects.csv"
    if not persons.is_file():
        raise BadInput(f"{persons}: no truth file (table,row_number,person_key)")
    engine.bind("truth_persons_src", csv_source(persons, columns=["table", "row_number", "person_key"],
                                                delimiter=",", encoding="utf-8", store_rejects=False),
                SourceBinding("truth_persons_src", "csv", str(persons)))
    create_table(engine, "truth_persons", 'SELECT "table" AS t, cast(row_number AS BIGINT) AS r, person_key AS k '
                 "FROM truth_persons_src", "truth: persons")
    if defects.is_file():
        engine.bind("truth_defects_src", csv_source(defects, columns=["table", "row_number", "column", "defect"],
                                                    delimiter=",", encoding="utf-8", store_rejects=False),
                    SourceBinding("truth_defects_src", "csv", str(defects)))
        create_table(engine, "truth_defects", """SELECT DISTINCT "table" AS t, try_cast(row_number AS BIGINT) AS r
            FROM truth_defects_src WHERE defect NOT IN ('death_date_sentinel') AND row_number <> ''""",
                     "truth: defective rows")
    else:
        create_table(engine, "truth_defects", "SELECT cast(NULL AS VARCHAR) AS t, cast(NULL AS BIGINT) AS r "
                     "WHERE false", "truth: no defects")


def evaluate_links(engine: Engine, links: str = "lk_links") -> dict[str, Any]:
    """Scores per group of ``links(_table, _row, logical, person_id, ...)`` against the bound truth."""
    create_table(engine, "ev_rows", f"""
        SELECT l.logical, l._table, l._row, l.person_id, t.k FROM {links} AS l
        JOIN truth_persons AS t ON t.t = l._table AND t.r = l._row
        WHERE NOT EXISTS (SELECT 1 FROM truth_defects AS d WHERE d.t = l._table AND d.r = l._row)""",
                 "evaluate: rows with their truth")
    create_table(engine, "ev_stands", """
        SELECT person_id, mode(k) AS k FROM ev_rows
        WHERE person_id IS NOT NULL AND logical IN ('IR_BEN_R', 'ER_PRS_F', 'T_MCOaaC') GROUP BY person_id""",
                 "evaluate: the true person each id stands for")
    create_table(engine, "ev_population", """
        SELECT DISTINCT t.k FROM truth_persons AS t WHERE regexp_replace(t.t, '^.*/', '') = 'IR_BEN_R'""",
                 "evaluate: the population")
    result: dict[str, Any] = {}
    for group, tables in GROUPS.items():
        names = exp.Tuple(expressions=[exp.Literal.string(t) for t in tables]).sql()
        got = rows(engine, f"""
            SELECT count(r.person_id), count(CASE WHEN s.k = r.k THEN 1 END),
                   count(CASE WHEN r.k IN (SELECT k FROM ev_population) THEN 1 END)
            FROM ev_rows AS r LEFT JOIN ev_stands AS s ON s.person_id = r.person_id
            WHERE r.logical IN {names}""", f"evaluate: {group}")
        linked, correct, linkable = (int(x or 0) for x in got[0])
        result[group] = score(linked, correct, linkable).to_dict()
    return result


def evaluate_deaths(engine: Engine, tables: dict[str, str]) -> dict[str, Any]:
    """The three death methods side by side: ``tables`` maps a method to a table of
    (cert_table, cert_row, person_id)."""
    out: dict[str, Any] = {}
    linkable = rows(engine, """
        SELECT count(*) FROM truth_persons AS t WHERE regexp_replace(t.t, '^.*/', '') = 'KI_CCI_R'
          AND t.k IN (SELECT k FROM ev_population)
          AND NOT EXISTS (SELECT 1 FROM truth_defects AS d WHERE d.t = t.t AND d.r = t.r)""",
                    "evaluate: linkable certificates")[0][0]
    for method, table in tables.items():
        got = rows(engine, f"""
            SELECT count(*), count(CASE WHEN s.k = t.k THEN 1 END) FROM {table} AS m
            JOIN truth_persons AS t ON t.t = m.cert_table AND t.r = m.cert_row
            LEFT JOIN ev_stands AS s ON s.person_id = m.person_id
            WHERE m.person_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM truth_defects AS d WHERE d.t = m.cert_table AND d.r = m.cert_row)""",
                   f"evaluate: deaths {method}")
        out[method] = score(int(got[0][0]), int(got[0][1] or 0), int(linkable or 0)).to_dict()
    return out


def several_psa_one_person(engine: Engine, links: str = "lk_links") -> dict[str, Any]:
    """Share of true people with several psa pseudonyms and an ano pseudonym who are one person id."""
    got = rows(engine, f"""
        WITH b AS (
          SELECT t.k, x.psa, x.ano, l.person_id FROM lk_ben AS x
          JOIN truth_persons AS t ON t.t = x._table AND t.r = x._row
          JOIN {links} AS l ON l._table = x._table AND l._row = x._row
          WHERE NOT x.fict AND x.psa IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM truth_defects AS d WHERE d.t = x._table AND d.r = x._row)),
        people AS (
          SELECT k, count(DISTINCT person_id) = 1 AND count(person_id) = count(*) AS one FROM b GROUP BY k
          HAVING count(DISTINCT psa) > 1 AND count(ano) > 0)
        SELECT count(*), count(CASE WHEN one THEN 1 END) FROM people""", "evaluate: several psa, one person")
    people, one = int(got[0][0]), int(got[0][1] or 0)
    return {"people": people, "one_person_id": one, "share": round(one / people, 4) if people else None}
