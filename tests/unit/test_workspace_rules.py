"""What an extract releases of a permitted table, by the rules alone (no hub): lineage, person and record key
columns never; identifying fields coarsened unless granted; other key columns marked for surrogates."""

from __future__ import annotations

from guichet.workspace import rules
from guichet.workspace.build import Plan, _offset, _out_expressions, _value


def _plan(variables: dict[str, list[str]], granted: list[str] | None = None, **extra: object) -> Plan:
    doc = {"data": {"tables": sorted(variables), "granted": granted or [],
                    "variables": [{"table": t, "variable": v} for t, vs in variables.items() for v in vs]},
           "population": {"criteria": None, "period": {"start": "2023-01-01", "end": None}}, "issued_at": "2026-01-02",
           **extra}
    return Plan.of("P-2026-0007", doc)


def test_released_columns_and_coarsening() -> None:
    plan = _plan({"ER_PRS_F": ["_source_row", "BEN_NIR_PSA", "BEN_RNG_GEM", "DCT_ORD_NUM", "EXE_SOI_DTD", "PFS_EXE_NUM",
                               "PRS_PAI_MNT", "BEN_RES_DPT", "ABSENT"]},)
    present = {"_source_row", "_source_file", "BEN_NIR_PSA", "BEN_RNG_GEM", "DCT_ORD_NUM", "EXE_SOI_DTD", "PFS_EXE_NUM",
               "PRS_PAI_MNT", "BEN_RES_DPT"}
    out = _out_expressions(plan, "ER_PRS_F", present)
    assert out.columns == ["BEN_RES_DPT", "EXE_SOI_DTD", "PFS_EXE_NUM", "PRS_PAI_MNT", rules.INDEX_DAYS]
    assert out.index_days and out.dates == ["EXE_SOI_DTD"]
    assert out.coarsened == {"ER_PRS_F.EXE_SOI_DTD": rules.MONTH}
    assert out.column_keys == {"PFS_EXE_NUM": "practitioner"} and out.record_key is rules.RECORD_KEYS["ER_PRS_F"]
    assert out.event_date == "EXE_SOI_DTD" and out.place == "BEN_RES_DPT"
    assert "strftime" in _value(plan, "ER_PRS_F", "EXE_SOI_DTD").sql(dialect="duckdb").lower()
    assert plan.project == "p-2026-0007" and plan.period == {"start": "2023-01-01", "end": None}


def test_a_granted_field_is_released_as_it_is() -> None:
    plan = _plan({"IR_BEN_R": ["BEN_NAI_MOI", "BEN_RES_COM", "BEN_NAI_ANN"], "ER_PRS_F": ["EXE_SOI_DTD"]},
                 granted=["IR_BEN_R.BEN_NAI_MOI", "ER_PRS_F.EXE_SOI_DTD"])
    ben = _out_expressions(plan, "IR_BEN_R", {"BEN_NAI_MOI", "BEN_RES_COM", "BEN_NAI_ANN"})
    assert ben.columns == ["BEN_NAI_ANN", "BEN_NAI_MOI"]
    assert ben.coarsened == {"IR_BEN_R.BEN_RES_COM": "removed (département only)"}
    prs = _out_expressions(plan, "ER_PRS_F", {"EXE_SOI_DTD"})
    assert prs.columns == ["EXE_SOI_DTD", rules.INDEX_DAYS] and prs.coarsened == {}
    assert _value(plan, "ER_PRS_F", "EXE_SOI_DTD").sql(dialect="duckdb") == '"EXE_SOI_DTD"'


def test_date_shifting_marks_every_date_and_removes_the_month_of_birth() -> None:
    plan = _plan({"IR_BEN_R": ["BEN_NAI_MOI", "BEN_NAI_ANN"], "ER_PRS_F": ["EXE_SOI_DTD", "EXE_SOI_DTF"]},
                 granted=["IR_BEN_R.BEN_NAI_MOI", "ER_PRS_F.EXE_SOI_DTD"])
    ben = _out_expressions(plan, "IR_BEN_R", {"BEN_NAI_MOI", "BEN_NAI_ANN"}, 30)
    assert ben.columns == ["BEN_NAI_ANN"] and ben.coarsened == {"IR_BEN_R.BEN_NAI_MOI": "removed (date shifting)"}
    prs = _out_expressions(plan, "ER_PRS_F", {"EXE_SOI_DTD", "EXE_SOI_DTF"}, 30)
    assert prs.dates == ["EXE_SOI_DTD", "EXE_SOI_DTF"]
    assert prs.coarsened == {"ER_PRS_F.EXE_SOI_DTD": "shifted per person",
                             "ER_PRS_F.EXE_SOI_DTF": "year-month (shifted per person)"}
    offsets = [_offset(f"token-{i}", 30) for i in range(400)]
    assert min(offsets) == -30 and max(offsets) == 30 and 0 not in offsets


def test_opt_out_exception_and_internal_columns() -> None:
    assert _plan({"ER_PRS_F": []}, opt_out_exceptions=["art_71_4"]).optout_exception
    assert not _plan({"ER_PRS_F": []}).optout_exception
    assert all(rules.is_internal(c) for c in ("_source_file", "_source_row", "_anything"))
    assert not rules.is_internal("BEN_NAI_ANN")


def test_the_memory_limit_is_not_part_of_an_extracts_fingerprint() -> None:
    from guichet.workspace.build import Settings, fingerprint

    plan = _plan({"ER_PRS_F": ["EXE_SOI_DTD"]})
    small, large = Settings.of({"workspace_memory_limit": "1GB"}), Settings.of({})
    assert (small.memory_limit, large.memory_limit) == ("1GB", "4GB")
    assert fingerprint(plan, {"ER_PRS_F": 1}, 1, [], small) == fingerprint(plan, {"ER_PRS_F": 1}, 1, [], large)
    assert fingerprint(plan, {"ER_PRS_F": 1}, 1, [], Settings.of({"workspace_k": 5})) != fingerprint(
        plan, {"ER_PRS_F": 1}, 1, [], large)
