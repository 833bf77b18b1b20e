"""Death certificates: who is a candidate, and what the end of a person's claims says (hand-made delivery).

Two situations a real CépiDc–SNDS linkage meets, built directly:

- the deceased's beneficiary row is absent from the data (quarantined for a defect of its own, or not
  extracted), but their claims and their stay ending in death are there: the person is still a candidate,
  with the sex, birth year and département their claims carry (birth month and commune unknown);
- one claim is dated after the death (post-mortem billing, a mistyped date) while the rest of the care ends
  at it: that is not "care after the death", which takes care on two days after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.engine import Engine
from guichet.linkage import deaths as d
from guichet.linkage.pipeline import RunInputs, run
from guichet.linkage.sources import delivery_sources
from guichet.linkage.sqlkit import rows, scalar

pytestmark = pytest.mark.spec


def ps(tag: str) -> str:
    """A 17-character pseudonym from [A-Z2-7] (synthetic)."""
    return (tag * 17)[:17].upper()


BEN_HEAD = ("BEN_NIR_PSA;BEN_RNG_GEM;BEN_NIR_ANO;BEN_CDI_NIR;BEN_NAI_ANN;BEN_NAI_MOI;BEN_SEX_COD;BEN_DCD_DTE;"
            "BEN_RES_DPT;BEN_RES_COM")
BEN = [
    f"{ps('PA')};1;{ps('AA')};00;1950;03;1;;075;101",
    f"{ps('PH')};1;{ps('AH')};00;1945;07;2;1600-01-01;033;402",  # H: died at home, date unknown to the insurer
    f"{ps('PK')};1;{ps('AK')};00;1945;07;2;;033;500",  # K: alive, same sex, birth and département as H
    f"{ps('PB')};1;{ps('AB')};00;1960;11;1;;064;120",
    f"{ps('PC')};1;{ps('AC')};00;1971;02;2;;069;201",
    # Q (ps('PQ')) has no beneficiary row
]
PRS_HEAD = ("BEN_NIR_PSA;BEN_RNG_GEM;BEN_CDI_NIR;EXE_SOI_DTD;BEN_SEX_COD;BEN_NAI_ANN;BEN_RES_DPT;BEN_RES_COM;"
            "DCT_ORD_NUM;FLX_DIS_DTD;FLX_EMT_NUM;FLX_EMT_ORD;FLX_EMT_TYP;FLX_TRT_DTD;ORG_CLE_NUM;PRS_ORD_NUM;"
            "REM_TYP_AFF")
CLAIMS = [  # (pseudonym, care date, sex, birth year, département)
    ("PA", "2023-01-05", 1, 1950, "075"), ("PA", "2023-09-05", 1, 1950, "075"),
    ("PH", "2023-04-20", 2, 1945, "033"), ("PH", "2023-05-08", 2, 1945, "033"),
    ("PH", "2023-05-30", 2, 1945, "033"),  # H: one isolated claim three weeks after the death
    ("PK", "2023-04-20", 2, 1945, "033"), ("PK", "2023-06-02", 2, 1945, "033"), ("PK", "2023-10-12", 2, 1945, "033"),
    ("PB", "2023-03-01", 1, 1960, "064"), ("PC", "2023-03-02", 2, 1971, "069"),
    ("PQ", "2023-01-10", 1, 1938, "064"), ("PQ", "2023-02-15", 1, 1938, "064"),  # Q: claims only
]
PRS = [f"{ps(t)};1;00;{day};{sex};{year};{dpt};;{i};2023-12-01;1;1;1;2023-12-01;01;1;1"
       for i, (t, day, sex, year, dpt) in enumerate(CLAIMS, 1)]
C_HEAD = "ETA_NUM;RSA_NUM;NIR_ANO_17;NIR_RET;NAI_RET;SEX_RET;SEJ_RET;FHO_RET;PMS_RET;DAT_RET;ENT_DAT;SOR_DAT"
C = [f"900000001;1;{ps('PQ')};0;0;0;0;0;0;0;12022023;20022023",  # Q died in hospital on 2023-02-20
     f"900000001;2;{ps('PB')};0;0;0;0;0;0;0;01032023;04032023"]
B_HEAD = "ETA_NUM;RSA_NUM;SOR_MOD"
B = ["900000001;1;9", "900000001;2;8"]
KI_HEAD = ("DCD_IDT_ENC;BEN_SEX_COD;BEN_NAI_ANN;BEN_NAI_MOI;BEN_RES_DPT;BEN_RES_COM;BEN_DCD_DTE;DCD_DPT_COD;"
           "DCD_COM_COD;DCD_LIE_COD")
KI = ["DCQ;1;1938;04;064;123;2023-02-20;064;123;2",  # Q, in hospital
      "DCH;2;1945;07;033;402;2023-05-10;033;402;1"]  # H, at home


def write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("d")
    write(folder, "IR_BEN_R", [BEN_HEAD, *BEN])
    write(folder, "ER_PRS_F", [PRS_HEAD, *PRS])
    write(folder, "T_MCO23C", [C_HEAD, *C])
    write(folder, "T_MCO23B", [B_HEAD, *B])
    write(folder, "KI_CCI_R", [KI_HEAD, *KI])
    with Engine() as engine:
        outcome = run(engine, RunInputs(delivery_sources(folder)))
        yield engine, outcome


def person_of_claims(engine: Engine, tag: str) -> str:
    got = rows(engine, f"""SELECT DISTINCT l.person_id FROM lk_links AS l JOIN lk_claims AS c
                           ON c._table = l._table AND c._row = l._row WHERE c.psa = '{ps(tag)}'""", "test")
    assert len(got) == 1 and got[0][0] is not None
    return str(got[0][0])


def level(engine: Engine, comparison: str, person_id: str, cert_id: str) -> str:
    """The label of the level a (person, certificate) pair falls in, from the model's own SQL conditions."""
    comp = next(c.get_comparison("duckdb") for c in d.comparisons(hub_evidence=True)
                if c.get_comparison("duckdb").output_column_name == comparison)
    cases = " ".join(f"WHEN {lv.sql_condition} THEN '{lv.label_for_charts}'" for lv in comp.comparison_levels
                     if lv.sql_condition.strip().upper() != "ELSE")
    default = next((lv.label_for_charts for lv in comp.comparison_levels
                    if lv.sql_condition.strip().upper() == "ELSE"), "none")
    cols = [r[0] for r in rows(engine, "DESCRIBE lk_dp", "test")]
    sides = ", ".join([f'p."{c}" AS "{c}_l"' for c in cols] + [f'c."{c}" AS "{c}_r"' for c in cols])
    return str(scalar(engine, f"""
        SELECT CASE {cases} ELSE '{default}' END FROM (
          SELECT {sides} FROM lk_dp AS p, lk_dc AS c JOIN lk_certs AS k ON k._table = c.cert_table
          AND k._row = c.cert_row WHERE p.person_id = '{person_id}' AND k.cert_id = '{cert_id}')""", "test"))


def test_a_person_known_from_claims_only_is_a_candidate_with_their_claims_identifiers(linked) -> None:
    engine, _ = linked
    q = person_of_claims(engine, "PQ")
    got = rows(engine, f"SELECT sex, birth_year, birth_month, res_dpt, res_com FROM lk_dp WHERE person_id = '{q}'",
               "test")
    assert got == [(1, 1938, None, "064", None)]
    assert level(engine, "birth", q, "DCQ") == d.MONTH_UNKNOWN
    assert level(engine, "residence", q, "DCQ") == d.COMMUNE_UNKNOWN


def test_the_certificate_of_a_person_without_beneficiary_row_is_linked(linked) -> None:
    engine, _ = linked
    q = person_of_claims(engine, "PQ")
    got = rows(engine, """SELECT g.person_id FROM lk_death_g AS g JOIN lk_certs AS k
                          ON k._table = g.cert_table AND k._row = g.cert_row WHERE k.cert_id = 'DCQ'""", "test")
    assert got == [(q,)]


def test_one_isolated_claim_after_the_death_is_not_care_after_it(linked) -> None:
    engine, _ = linked
    h, k = person_of_claims(engine, "PH"), person_of_claims(engine, "PK")
    assert level(engine, "claims_end", h, "DCH") == "claims end at the death"
    assert level(engine, "claims_end", k, "DCH") == "care after the death"  # care on two days after it


def test_a_level_missing_part_of_the_evidence_weighs_what_its_parts_weigh_together() -> None:
    from types import SimpleNamespace as NS

    def lv(label: str, m: float | None, u: float | None) -> NS:
        return NS(label_for_charts=label, is_null_level=False, m_probability=m, u_probability=u)

    birth = [lv("same birth month", 0.9, 0.0005), lv(d.MONTH_UNKNOWN, 0.01, 0.01), lv("same birth year", 0.04, 0.006),
             lv("other birth", 0.06, 0.99)]
    residence = [lv("same commune", 0.7, 0.0001), lv("a commune of the residence history", None, None),
                 lv(d.COMMUNE_UNKNOWN, 0.01, 0.01), lv("same département", 0.2, 0.01), lv("elsewhere", 0.1, 0.99)]
    linker = NS(_settings_obj=NS(comparisons=[NS(comparison_levels=birth), NS(comparison_levels=residence)]))
    d._marginalise(linker)
    assert (birth[1].m_probability, birth[1].u_probability) == pytest.approx((0.94, 0.0065))
    assert (residence[2].m_probability, residence[2].u_probability) == pytest.approx((0.9, 0.0101))
    assert birth[0].m_probability == 0.9 and residence[3].u_probability == 0.01  # the parts are left alone
