"""Pure parts of the synthetic SNDS: NIRs, reference codes, shipped schemas, generators' realism."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from guichet.errors import BadInput
from guichet.synth import nir, schemas
from guichet.synth.claims import make_claims
from guichet.synth.clinical import CONDITIONS, all_ir_cim_codes, all_ms_cim_codes
from guichet.synth.defects import NOT_IN_NOMENCLATURE
from guichet.synth.hospital import make_stays
from guichet.synth.params import PROFILES, SynthRequest, month_index, parse_plant
from guichet.synth.population import age_years, d64, make_persons
from guichet.synth.reference import reference
from guichet.synth.rows import Counters
from tests.conftest import NOMENCLATURES, drug_reference

NOM = NOMENCLATURES
REQ = SynthRequest(persons=20_000, start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31), seed=11)


def _codes(path: Path, column: str) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return {r[column]: r for r in csv.DictReader(f, delimiter=";")}


# --- NIRs ------------------------------------------------------------------------------------------------

def test_control_key_of_known_examples() -> None:
    assert nir.is_valid("255081416802538")  # the textbook example
    assert nir.control_key("2690299341732") == 97 - 2690299341732 % 97
    # Corsica: 2A counts as 19, 2B as 18.
    assert nir.control_key("185072A012345") == 97 - 1850719012345 % 97
    assert nir.control_key("185072B012345") == 97 - 1850718012345 % 97


def test_allocated_nirs_are_valid_unique_and_never_real() -> None:
    ref = reference()
    alloc = nir.NirAllocator(ref.departements)
    rng = np.random.default_rng(0)
    n = 30_000
    sex = rng.integers(1, 3, n)
    birth = np.datetime64("1930-01-01") + rng.integers(0, 30_000, n).astype("timedelta64[D]")
    dpt = rng.integers(0, len(ref.departements), 5)[rng.integers(0, 5, n)]  # crowded cells
    first = alloc.allocate(sex, birth, dpt)
    second = alloc.allocate(sex, birth, dpt)  # a later chunk: still unique
    every = np.concatenate([first, second]).tolist()
    assert len(set(every)) == len(every)
    assert all(nir.is_valid(x) and x[10:13] == "000" for x in every)
    # Birth year and month and sex are those of the person.
    assert first[0][0] == str(sex[0]) and first[0][1:3] == str(birth[0])[2:4] and first[0][3:5] == str(birth[0])[5:7]


def test_corsica_before_1976_is_20_and_keys_still_valid() -> None:
    ref = reference()
    alloc = nir.NirAllocator(ref.departements)
    a, b = ref.departements.index("02A"), ref.departements.index("02B")
    out = alloc.allocate(np.array([1, 1, 2, 2]), np.array(["1960-01-01", "1960-01-01", "1990-05-05", "1990-05-05"],
                                                           dtype="datetime64[D]"), np.array([a, b, a, b]))
    assert [x[5:7] for x in out] == ["20", "20", "2A", "2B"]
    assert len(set(out.tolist())) == 4 and all(nir.is_valid(x) for x in out)


def test_corrupted_keys_fail_and_fictitious_nirs_pass() -> None:
    good = nir.NirAllocator(reference().departements).allocate(
        np.array([1, 2]), np.array(["1980-01-01", "2001-02-03"], dtype="datetime64[D]"), np.array([0, 3]))
    assert not any(nir.is_valid(x) for x in nir.corrupt_key(good))
    f = nir.fictitious(np.array([2, 1]), np.array(["075", "02A"]), np.array([1, 2]))
    assert all(nir.is_valid(x) and nir.is_synthetic(x) and x[1:7] == "555555" for x in f)


# --- references -----------------------------------------------------------------------------------------

def test_clinical_codes_exist_in_the_real_nomenclatures() -> None:
    ms = _codes(NOM / "MS_CIM_V.csv", "CIM_COD")
    ir = _codes(NOM / "IR_CIM_V.csv", "CIM_COD")
    assert set(all_ms_cim_codes()) <= set(ms)
    assert set(all_ir_cim_codes()) <= set(ir)
    for c in CONDITIONS:  # a long-term illness is justified by a code of that ALD
        assert all(ir[code]["ALD_030_COD"] == str(c.ald) for code in c.cim_ald), c.name
    ald = _codes(NOM / "IR_ALD_V.csv", "ALD_030_COD")
    assert all(str(c.ald) in ald for c in CONDITIONS if c.ald)


def test_shipped_drugs_are_rows_of_the_real_drug_reference() -> None:
    real = drug_reference()
    for prefix, drugs in reference().drugs.items():
        assert drugs.cip13.size > 0, prefix
        for cip13, cip7 in zip(drugs.cip13.tolist(), drugs.cip7.tolist(), strict=True):
            assert real[cip13]["PHA_ATC_C07"].startswith(prefix) and real[cip13]["PHA_PRS_IDE"] == cip7


def test_defect_codes_are_absent_from_the_real_references() -> None:
    ms = set(_codes(NOM / "MS_CIM_V.csv", "CIM_COD"))
    ir = set(_codes(NOM / "IR_CIM_V.csv", "CIM_COD"))
    drugs = set(drug_reference())
    nat = set(_codes(NOM / "IR_NAT_V.csv", "PRS_NAT"))
    dpt = set(_codes(NOM / "IR_DPT_V.csv", "GEO_DPT_COD"))
    bad = NOT_IN_NOMENCLATURE
    assert bad["DGN_PAL"] not in ms and bad["ASS_DGN"] not in ms
    assert bad["MED_MTF_COD"] not in ir and bad["DCD_CIM_COD"] not in ir and bad["ECD_CIM_COD"] not in ir
    assert bad["PHA_PRS_C13"] not in drugs and bad["PRS_NAT_REF"] not in nat and bad["BEN_RES_DPT"] not in dpt


def test_shipped_core_schemas_are_what_the_code_derives() -> None:
    root = Path(schemas.__file__).parent / "schemas"
    for table in schemas.TABLES:
        assert json.loads((root / "clear" / f"{table}.json").read_text()) == schemas.clear(table)
        assert json.loads((root / f"{table}.json").read_text()) == schemas.pseudonymised(table)
    assert (root / "source" / "LICENSE").read_text().startswith("Mozilla Public License")


def test_schema_rules_required_unique_and_inputs() -> None:
    ben = schemas.pseudonymised("IR_BEN_R")
    fields = {f["name"]: f for f in ben["fields"]}
    assert ben["primaryKey"] == ["BEN_NIR_PSA", "BEN_RNG_GEM"]
    assert "unique" not in fields["BEN_NIR_PSA"].get("constraints", {})
    assert fields["BEN_NIR_PSA"]["constraints"]["minLength"] == 17
    assert not fields["BEN_NIR_ANO"]["constraints"].get("required")
    assert not fields["BEN_DCD_DTE"].get("constraints", {}).get("required")
    clear = [f["name"] for f in schemas.clear("IR_BEN_R")["fields"]]
    assert "BEN_NIR_PSA" not in clear and clear[:2] == ["BEN_NIR_OUV", "BEN_NAI_DTE"] and "BEN_NIR" in clear
    ki = [f["name"] for f in schemas.clear("KI_CCI_R", full=True)["fields"]]
    assert not {"BEN_NIR_ANO", "BEN_IDT_ANO", "BEN_NIR_OUV", "BEN_NIR"} & set(ki)


# --- request --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change,message", [
    ({"persons": 0}, "--persons"), ({"persons": -5}, "--persons"), ({"end": dt.date(2022, 1, 1)}, "--end"),
    ({"deliveries": 0}, "--deliveries"), ({"columns": "some"}, "--columns"), ({"seed": -1}, "--seed"),
])
def test_bad_requests_are_refused_with_the_option_named(change: dict[str, object], message: str) -> None:
    req = SynthRequest(**{**REQ.__dict__, **change})  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=message):
        req.validate()


def test_plant_needs_a_known_region() -> None:
    assert parse_plant("coding_gap:84", reference().region_codes).region == "84"
    with pytest.raises(BadInput, match="--plant"):
        parse_plant("coding_gap:7", reference().region_codes)
    with pytest.raises(BadInput, match="--plant"):
        parse_plant("other:84", reference().region_codes)


# --- realism of the generators (20,000 people, one year) -------------------------------------------------

@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    ref = reference()
    rng = np.random.default_rng(5)
    people = make_persons(rng, 1, REQ.persons, REQ, ref, nir.NirAllocator(ref.departements), 0)
    start, end = d64(REQ.start), d64(REQ.end)
    last = month_index(REQ.end) + 18
    lags = np.array(REQ.profile.flow_lag)
    claims = make_claims(rng, people, start, end, last, lags / lags.sum(), 20.0, ref, Counters())
    stays = make_stays(rng, people, start, end, last, REQ.profile, ref, Counters(), None)
    return {"p": people, "claims": claims, "stays": stays}


def test_population_rates(world: dict[str, object]) -> None:
    p = world["p"]
    age = age_years(p.birth, d64(REQ.start))  # type: ignore[attr-defined]
    deaths = (~np.isnat(p.death)).mean()  # type: ignore[attr-defined]
    assert 0.006 < deaths < 0.013
    in_hospital = p.in_hospital[~np.isnat(p.death)].mean()  # type: ignore[attr-defined]
    assert 0.45 < in_hospital < 0.65
    assert 0.14 < p.ald.any(axis=1).mean() < 0.20  # type: ignore[attr-defined]
    assert 0.045 < p.cond[age >= 18, 0].mean() < 0.075  # type: ignore[attr-defined]  # diabetes, adults
    assert 0.20 < (age < 20).mean() < 0.27 and 0.08 < (age >= 75).mean() < 0.13
    assert 0.50 < (p.sex == 2).mean() < 0.53  # type: ignore[attr-defined]


def test_claims_stays_and_flow_lag(world: dict[str, object]) -> None:
    claims, stays = world["claims"], world["stays"]
    per_person = claims.prs.n / REQ.persons  # type: ignore[attr-defined]
    assert 15 <= per_person <= 25
    assert 0.13 < stays.b.n / REQ.persons < 0.21  # type: ignore[attr-defined]
    care = np.array(claims.prs.cols["EXE_SOI_DTD"].tolist(), dtype="datetime64[D]")  # type: ignore[attr-defined]
    assert care.min() >= d64(REQ.start) and care.max() <= d64(REQ.end)
    within = claims.prs.arrival <= month_index(REQ.start) + 17  # type: ignore[attr-defined]
    assert within.mean() >= 0.98


def test_dispensings_follow_conditions(world: dict[str, object]) -> None:
    p, claims = world["p"], world["claims"]
    diabetics = set(p.key[p.cond[:, 0]].tolist())  # type: ignore[attr-defined]
    pha = claims.pha  # type: ignore[attr-defined]
    atc = {c: a for a, d in reference().drugs.items() for c in d.cip13.tolist()}
    a10 = {k for k, c in zip(pha.person.tolist(), pha.cols["PHA_PRS_C13"].tolist(), strict=True)
           if atc[c].startswith("A10")}
    assert a10 and a10 <= diabetics
    assert len(a10) / len(diabetics) > 0.9


def test_profiles_are_documented_numbers() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "synthetic.md").read_text(encoding="utf-8")
    for name, prof in PROFILES.items():
        assert f"`{name}`" in text
        for key, value in prof.rates().items():
            if key in ("name", "flow_lag"):
                continue
            assert f"`{key}`" in text, f"docs/synthetic.md does not document {key}"
            assert str(value) in text, f"docs/synthetic.md does not show {key} = {value} ({name})"
