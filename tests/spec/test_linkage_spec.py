"""Linkage spec tests: tiny hand-made SNDS tables in (a pseudonymised delivery folder), links out."""

from __future__ import annotations

from pathlib import Path

import pytest

from guichet.engine import Engine
from guichet.linkage.pipeline import RunInputs, run
from guichet.linkage.sources import delivery_sources
from guichet.linkage.sqlkit import rows

pytestmark = pytest.mark.spec


def ps(tag: str) -> str:
    """A 17-character pseudonym from [A-Z2-7] (synthetic)."""
    return (tag * 17)[:17].upper()


BEN_HEAD = "BEN_NIR_PSA;BEN_RNG_GEM;BEN_NIR_ANO;BEN_CDI_NIR;BEN_NAI_ANN;BEN_NAI_MOI;BEN_SEX_COD;BEN_DCD_DTE;BEN_RES_DPT;BEN_RES_COM"
BEN = [
    f"{ps('PA')};1;{ps('AA')};00;1950;03;1;;075;101",  # 1: X
    f"{ps('PB')};1;{ps('AC')};00;2005;06;2;;069;201",  # 2: child C on a parent's rights
    f"{ps('PC')};1;{ps('AC')};00;2005;06;2;;069;201",  # 3: child C on own rights (same ano)
    f"{ps('PT')};1;{ps('AT')};00;2010;01;1;;031;111",  # 4: twin 1
    f"{ps('PT')};2;{ps('AU')};00;2010;01;1;;031;111",  # 5: twin 2 (same psa, rank 2)
    f"{ps('PF')};1;;03;1980;02;2;;075;102",  # 6: fictitious NIR
    f"{ps('PD')};1;;00;2006;07;2;;013;301",  # 7: child D without ano on a parent's rights
    f"{ps('PE')};1;{ps('AE')};00;2006;07;2;;013;301",  # 8: child D on own rights
    f"{ps('PG')};1;{ps('AG')};00;1940;05;1;1600-01-01;033;401",  # 9: died in hospital, sentinel date
    "!invalid_nir_key;1;;00;1960;01;1;;033;402",  # 10: the producer's NIR failed its key
]
PRS_HEAD = ("BEN_NIR_PSA;BEN_RNG_GEM;BEN_CDI_NIR;EXE_SOI_DTD;BEN_RES_DPT;BEN_RES_COM;DCT_ORD_NUM;FLX_DIS_DTD;"
            "FLX_EMT_NUM;FLX_EMT_ORD;FLX_EMT_TYP;FLX_TRT_DTD;ORG_CLE_NUM;PRS_ORD_NUM;REM_TYP_AFF")
PRS = [
    f"{ps('PA')};1;00;2023-01-05;075;101;1;2023-02-01;1;1;1;2023-02-01;01;1;1",
    f"{ps('PT')};2;00;2023-01-06;031;111;2;2023-02-01;1;1;1;2023-02-01;01;1;1",
    f"{ps('PF')};1;03;2023-01-07;075;102;3;2023-02-01;1;1;1;2023-02-01;01;1;1",
    f"{ps('PB')};1;00;2023-01-08;069;201;4;2023-02-01;1;1;1;2023-02-01;01;1;1",
    f"{ps('PZ')};1;00;2023-01-09;075;103;5;2023-02-01;1;1;1;2023-02-01;01;1;1",  # claims only
    f"{ps('PG')};1;00;2023-03-01;033;401;6;2023-04-01;1;1;1;2023-04-01;01;1;1",
]
PHA_HEAD = "DCT_ORD_NUM;FLX_DIS_DTD;FLX_EMT_NUM;FLX_EMT_ORD;FLX_EMT_TYP;FLX_TRT_DTD;ORG_CLE_NUM;PRS_ORD_NUM;REM_TYP_AFF"
PHA = ["1;2023-02-01;1;1;1;2023-02-01;01;1;1", "9;2023-02-01;1;1;1;2023-02-01;01;1;1"]
C_HEAD = "ETA_NUM;RSA_NUM;NIR_ANO_17;NIR_RET;NAI_RET;SEX_RET;SEJ_RET;FHO_RET;PMS_RET;DAT_RET;ENT_DAT;SOR_DAT"
C = [
    f"900000001;1;{ps('PA')};0;0;0;0;0;0;0;01022023;05022023",
    f"900000001;2;{ps('PT')};0;0;0;0;0;0;0;01022023;05022023",  # same-sex twins: ambiguous
    f"900000001;3;{ps('PA')};1;0;0;0;0;0;0;01022023;05022023",  # return code: not linked
    f"900000001;4;{ps('PG')};0;0;0;0;0;0;0;01032023;10032023",  # died in hospital
]
B_HEAD = "ETA_NUM;RSA_NUM;SOR_MOD"
B = ["900000001;1;8", "900000001;2;8", "900000001;3;8", "900000001;4;9"]
KI_HEAD = ("DCD_IDT_ENC;BEN_SEX_COD;BEN_NAI_ANN;BEN_NAI_MOI;BEN_RES_DPT;BEN_RES_COM;BEN_DCD_DTE;DCD_DPT_COD;"
           "DCD_COM_COD;DCD_LIE_COD")
KI = ["DC1;1;1940;05;033;401;2023-03-10;033;401;2", "DC2;2;1930;11;064;999;2023-06-01;064;999;1"]
ECD = ["DCD_IDT_ENC;CER_LIG_NUM", "DC1;1", "DC1;2", "DC2;1"]


def write(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def delivery(folder: Path, ben: list[str] | None = None) -> Path:
    write(folder, "IR_BEN_R", [BEN_HEAD, *(ben if ben is not None else BEN)])
    write(folder, "ER_PRS_F", [PRS_HEAD, *PRS])
    write(folder, "ER_PHA_F", [PHA_HEAD, *PHA])
    write(folder, "T_MCO23C", [C_HEAD, *C])
    write(folder, "T_MCO23B", [B_HEAD, *B])
    write(folder, "KI_CCI_R", [KI_HEAD, *KI])
    write(folder, "KI_ECD_R", ECD)
    return folder


def links(engine: Engine) -> dict[tuple[str, int], tuple[str | None, str | None, str | None]]:
    got = rows(engine, "SELECT _table, _row, person_id, method, reason FROM lk_links", "test")
    return {(t, int(r)): (p, m, why) for t, r, p, m, why in got}


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory):
    with Engine() as engine:
        outcome = run(engine, RunInputs(delivery_sources(delivery(tmp_path_factory.mktemp("d")))))
        yield engine, outcome, links(engine)


def test_ano_joins_several_psa_and_ranks_keep_twins_apart(linked) -> None:
    _, _, got = linked
    assert got[("IR_BEN_R", 2)][0] == got[("IR_BEN_R", 3)][0] is not None
    assert got[("IR_BEN_R", 3)][1] == "ano"
    assert got[("IR_BEN_R", 4)][0] != got[("IR_BEN_R", 5)][0]
    assert got[("ER_PRS_F", 2)][0] == got[("IR_BEN_R", 5)][0]  # the claim of twin 2 (rank 2)


def test_child_without_ano_joins_its_own_rights_node(linked) -> None:
    _, _, got = linked
    assert got[("IR_BEN_R", 7)][0] == got[("IR_BEN_R", 8)][0] is not None
    assert got[("IR_BEN_R", 7)][1] == "rights_change"


def test_fictitious_and_invalid_nirs_stay_unlinked_with_their_reason(linked) -> None:
    _, _, got = linked
    assert got[("IR_BEN_R", 6)] == (None, None, "fictitious_nir")
    assert got[("ER_PRS_F", 3)] == (None, None, "fictitious_nir")
    assert got[("IR_BEN_R", 10)] == (None, None, "invalid_pseudonym")


def test_hospital_return_codes_and_same_sex_twins(linked) -> None:
    _, _, got = linked
    assert got[("T_MCO23C", 1)][0] == got[("IR_BEN_R", 1)][0]
    assert got[("T_MCO23C", 1)][1] == "hospital_psa"
    assert got[("T_MCO23C", 2)] == (None, None, "ambiguous_twins")
    assert got[("T_MCO23C", 3)] == (None, None, "return_code")
    assert got[("T_MCO23B", 1)][0] == got[("IR_BEN_R", 1)][0]  # through the key graph
    assert got[("T_MCO23B", 2)][2] == "ambiguous_twins"


def test_key_graph_carries_person_to_pharmacy_and_cause_lines(linked) -> None:
    _, _, got = linked
    assert got[("ER_PHA_F", 1)][0] == got[("ER_PRS_F", 1)][0] is not None
    assert got[("ER_PHA_F", 1)][1] == "key_graph"
    assert got[("ER_PHA_F", 2)] == (None, None, "no_key")
    assert got[("KI_ECD_R", 1)][0] == got[("KI_ECD_R", 2)][0] == got[("KI_CCI_R", 1)][0]


def test_death_in_hospital_is_matched_by_all_methods_and_outsider_is_not(linked) -> None:
    engine, outcome, got = linked
    person = got[("IR_BEN_R", 9)][0]
    assert got[("KI_CCI_R", 1)][0] == person
    assert got[("KI_CCI_R", 2)][0] is None
    a = rows(engine, "SELECT cert_row, person_id FROM lk_death_a", "test")
    assert a == [(1, person)]  # baseline A took the hospital exit date for the sentinel
    assert outcome.deaths_in == 2 and outcome.deaths_matched["guichet"] == 1


def test_claims_only_key_gets_a_person(linked) -> None:
    _, outcome, got = linked
    assert got[("ER_PRS_F", 5)][0] is not None
    assert outcome.persons == 7  # X, C, twin 1, twin 2, D, G, PZ — and no fictitious person


def test_a_hash_collision_in_the_node_anti_join_is_caught_and_redone_exactly(
        linked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claims' keys no beneficiary holds are found by hash; a colliding key (here: every key, through a
    hint that is the same for all) would leave its claims without a person, which ``link`` sees and redoes."""
    from guichet.linkage import deterministic as det

    _, outcome, got = linked
    calls: list[bool] = []
    build = det.build_nodes

    def spy(engine: Engine, *, exact: bool = False) -> None:
        calls.append(exact)
        build(engine, exact=exact)

    monkeypatch.setattr(det, "KEY_HINT", "length({t}psa)")
    monkeypatch.setattr(det, "build_nodes", spy)
    with Engine() as engine:
        again = run(engine, RunInputs(delivery_sources(delivery(tmp_path / "d")), compare_baselines=False))
        redone = links(engine)
    assert calls == [False, True]
    assert redone[("ER_PRS_F", 5)][0] is not None and redone[("ER_PRS_F", 5)][2] is None
    assert again.persons == outcome.persons
    assert {k: v[:2] for k, v in redone.items() if k[0] in ("IR_BEN_R", "ER_PRS_F")} == \
        {k: v[:2] for k, v in got.items() if k[0] in ("IR_BEN_R", "ER_PRS_F")}


def test_every_row_is_accounted(linked) -> None:
    _, _, got = linked
    expected = len(BEN) + len(PRS) + len(PHA) + len(C) + len(B) + len(KI) + len(ECD) - 1
    assert len(got) == expected


def index_of(engine: Engine):
    import pyarrow as pa

    from guichet.linkage.pipeline import INDEX_SCHEMA

    got = rows(engine, "SELECT kind, key, person_id, method, confidence FROM lk_index", "test")
    return pa.Table.from_pylist([dict(zip(INDEX_SCHEMA.names, r, strict=True)) for r in got], schema=INDEX_SCHEMA)


def test_ids_stay_stable_merges_and_splits_are_events(tmp_path: Path) -> None:
    first = delivery(tmp_path / "a")
    with Engine() as engine:
        o1 = run(engine, RunInputs(delivery_sources(first), compare_baselines=False))
        index1 = index_of(engine)
        before = links(engine)
    # the twins' rows now carry the same ano: they become one person (a merge event)
    merged = list(BEN)
    merged[4] = f"{ps('PT')};2;{ps('AT')};00;2010;01;1;;031;111"
    with Engine() as engine:
        o2 = run(engine, RunInputs(delivery_sources(delivery(tmp_path / "b", merged)), index1, o1.next_number,
                                   compare_baselines=False))
        after = links(engine)
        index2 = index_of(engine)
    assert after[("IR_BEN_R", 1)][0] == before[("IR_BEN_R", 1)][0]
    assert after[("IR_BEN_R", 9)][0] == before[("IR_BEN_R", 9)][0]
    assert after[("IR_BEN_R", 4)][0] == after[("IR_BEN_R", 5)][0] == before[("IR_BEN_R", 4)][0]
    assert [e["kind"] for e in o2.events] == ["merge"]
    assert o2.events[0]["other"] == before[("IR_BEN_R", 5)][0]
    # and apart again: a split, with a new id
    with Engine() as engine:
        o3 = run(engine, RunInputs(delivery_sources(delivery(tmp_path / "c")), index2, o2.next_number,
                                   compare_baselines=False))
        again = links(engine)
    assert again[("IR_BEN_R", 4)][0] == before[("IR_BEN_R", 4)][0]
    assert again[("IR_BEN_R", 5)][0] not in {before[("IR_BEN_R", 5)][0], before[("IR_BEN_R", 4)][0]}
    assert [e["kind"] for e in o3.events] == ["split"]


def test_recorded_sql_transpiles_and_splink_sql_is_captured(linked) -> None:
    engine, outcome, _ = linked
    assert engine.recorded and all(r.spark for r in engine.recorded)
    assert outcome.lineage["guichet"]["seeds"]["u_random_sampling"] == 20240101
    assert any("match_probability" in s for s in outcome.lineage["guichet"]["sql"])
