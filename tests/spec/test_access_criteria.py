"""Criteria spec tests: populations counted by the hub against populations counted by hand on a handcrafted
delivery of 21 people (``tests/criteria_support.py`` lists them and their events); validation errors with their
JSON paths; the SQL built with SQLGlot, values as literals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from guichet.access import criteria as cr
from guichet.engine import Engine, to_spark
from guichet.errors import BadInput
from guichet.hub import Hub
from tests.access_support import hub_with_lake

pytestmark = pytest.mark.spec
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "criteria.json"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("access")
    hub = hub_with_lake(root)  # the handcrafted lake, built once per test process
    yield hub
    hub.close()


ATC = "ATC"
# (criteria, the people it selects, counted by hand from the table in tests/criteria_support.py)
POPULATIONS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("metformin, any time", {"codes": ["A10BA02"], "system": ATC}, {"ana", "bob", "gus"}),
    ("antidiabetics in 2023 (bob's is 2022-12-15)",
     {"codes": ["A10"], "system": ATC, "during": {"from": "2023-01-01", "to": "2023-12-31"}}, {"ana", "gus"}),
    ("one pack by CIP13", {"codes": ["3400922152134"], "system": "CIP13"}, {"bob"}),
    ("type 2 diabetes in hospital (prefix E11)", {"codes": ["E11"], "system": "ICD10"}, {"ana", "gus"}),
    ("E11 in main diagnoses or long-term illnesses",
     {"codes": ["E11"], "system": "ICD10", "variables": ["T_MCOaaB.DGN_PAL", "IR_IMB_R.MED_MTF_COD"]},
     {"ana", "bob", "gus"}),
    ("an associated diagnosis (T_MCOaaD)", {"codes": ["J18.9"], "system": "ICD10"}, {"ana"}),
    ("exact ICD-10 match", {"codes": ["E11"], "system": "ICD10", "match": "exact", "variables": ["T_MCOaaB.DGN_PAL"]},
     set()),
    ("drug or diagnosis: gus once, though his rows carry two pseudonyms",
     {"any": [{"codes": ["A10"], "system": ATC}, {"codes": ["E11"], "system": "ICD10"}]}, {"ana", "bob", "gus"}),
    ("drug and diagnosis: gus's dispensing and stay are under two pseudonyms of one person",
     {"all": [{"codes": ["A10BA02"], "system": ATC}, {"codes": ["E11"], "system": "ICD10"}]}, {"ana", "gus"}),
    ("long-term illness 8", {"codes": ["8"], "system": "ALD"}, {"bob"}),
    ("long-term illness 8 during 2023 (2020-2030)",
     {"codes": ["8"], "system": "ALD", "during": {"from": "2023-06-01", "to": "2023-06-30"}}, {"bob"}),
    ("long-term illness 8 before it started",
     {"codes": ["8"], "system": "ALD", "during": {"to": "2019-12-31"}}, set()),
    ("adults on 2023-01-01 (eve is 17)", {"age": {"min": 18}, "at": "2023-01-01"},
     {"ana", "bob", "dan", "hal", *{f"b{i:02d}" for i in range(1, 15)}}),
    ("18 on 2023-06-01: eve, born 2005-06", {"age": {"min": 18, "max": 18}, "at": "2023-06-01"}, {"eve"}),
    ("18 on 2023-05-31: nobody", {"age": {"min": 18, "max": 18}, "at": "2023-05-31"}, set()),
    ("18 at some day of 2023", {"age": {"min": 18, "max": 18}, "during": {"from": "2023-01-01", "to": "2023-12-31"}},
     {"eve"}),
    ("12 or under on 2023-01-01: cyd, born in January 2010, counts as born on the 1st (13)",
     {"age": {"max": 12}, "at": "2023-01-01"}, {"gus"}),
    ("12 or under on 2022-12-31", {"age": {"max": 12}, "at": "2022-12-31"}, {"cyd", "gus"}),
    ("women", {"sex": "female"}, {"ana", "cyd", "eve", *{f"b{i:02d}" for i in range(1, 15, 2)}}),
    ("Paris", {"territory": {"departements": ["75"]}}, {"ana", "eve", *{f"b{i:02d}" for i in range(1, 15)}}),
    ("Corsica (région 94)", {"territory": {"regions": ["94"]}}, {"dan"}),
    ("a claim or a stay in May 2023", {"period": {"from": "2023-05-01", "to": "2023-05-31"}}, {"ana", "cyd"}),
    ("not metformin", {"not": {"codes": ["A10BA02"], "system": ATC}},
     {"cyd", "dan", "eve", "hal", *{f"b{i:02d}" for i in range(1, 15)}}),
    ("women without antidiabetics", {"all": [{"sex": "female"}, {"not": {"codes": ["A10"], "system": ATC}}]},
     {"cyd", "eve", *{f"b{i:02d}" for i in range(1, 15, 2)}}),
    ("statins", {"codes": ["C10AA05"], "system": ATC}, {f"b{i:02d}" for i in range(1, 15)}),
    ("women among statins or diabetes (no operator precedence between INTERSECT and UNION)",
     {"all": [{"any": [{"codes": ["C10AA05"], "system": ATC}, {"codes": ["E11"], "system": "ICD10"}]},
              {"sex": "female"}]}, {"ana", *{f"b{i:02d}" for i in range(1, 15, 2)}}),
    ("statins or not not diabetes", {"any": [{"codes": ["C10AA05"], "system": ATC},
                                             {"not": {"not": {"codes": ["E11"], "system": "ICD10"}}}]},
     {"ana", "gus", *{f"b{i:02d}" for i in range(1, 15)}}),
    ("women, or men with diabetes",
     {"any": [{"sex": "female"}, {"all": [{"codes": ["E11"], "system": "ICD10"}, {"sex": "male"}]}]},
     {"ana", "cyd", "eve", "gus", *{f"b{i:02d}" for i in range(1, 15, 2)}}),
    ("not (women or Paris)", {"not": {"any": [{"sex": "female"}, {"territory": {"departements": ["75"]}}]}},
     {"bob", "dan", "gus", "hal"}),
    ("men of Paris on statins in early April",
     {"all": [{"sex": "male"}, {"territory": {"departements": ["075"]}},
              {"codes": ["C10AA05"], "system": ATC, "during": {"from": "2023-04-01", "to": "2023-04-07"}}]},
     {"b02", "b04", "b06"}),
]


@pytest.mark.parametrize(("why", "criteria", "people"), POPULATIONS, ids=[p[0] for p in POPULATIONS])
def test_count_matches_the_population_counted_by_hand(lake: Hub, why: str, criteria: dict[str, Any],
                                                      people: set[str]) -> None:
    assert cr.validate(lake, criteria) == [], why
    assert cr.count_persons(lake, criteria) == len(people), why


def test_the_example_is_valid_and_counts(lake: Hub) -> None:
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert cr.validate(lake, example) == []
    # adults on 2023-01-01 given an antidiabetic in 2023, without type 1 diabetes in hospital: ana (gus is a
    # child, bob's dispensing is of 2022)
    assert cr.count_persons(lake, example) == 1
    assert cr.canonical(example) == cr.canonical(json.loads(cr.canonical(example)))


def _errors(hub: Hub | None, criteria: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in cr.validate(hub, criteria):
        out[e.path] = f"{out[e.path]}; {e.message}" if e.path in out else e.message
    return out


@pytest.mark.parametrize(("criteria", "path", "words"), [
    ({"all": [{"sex": "female"}, {"codes": ["E11", "E11'); DROP TABLE x; --"], "system": "ICD10"}]},
     "/all/1/codes/1", "expected form"),
    ({"all": [{"sex": "female"}, {"colour": "blue"}]}, "/all/1", "not a criterion"),
    ({"any": [{"sex": "other"}]}, "/any/0/sex", "one of male, female"),
    ({"codes": ["A10"], "system": "ATC", "during": {"from": "2023-02-30"}}, "/during/from", "not a date"),
    ({"codes": ["A10"], "system": "ATC", "during": {"from": "2023-12-01", "to": "2023-01-01"}}, "/during",
     "after"),
    ({"all": [{"age": {"min": 18}}]}, "/all/0", "'at'"),
    ({"age": {"min": 70, "max": 18}, "at": "2023-01-01"}, "/age", "above"),
    ({"not": {"codes": ["XYZ"], "system": "CIP13"}}, "/not/codes/0", "CIP13"),
    ({"codes": ["E11", "E11Z"], "system": "ICD10"}, "/codes/1", "MS_CIM_V"),
    ({"codes": ["8", "42"], "system": "ALD"}, "/codes/1", "IR_ALD_V"),
    ({"codes": ["Z99ZZ99"], "system": "ATC"}, "/codes/0", "referential"),
    ({"codes": ["E11"], "system": "ICD10", "variables": ["IR_BEN_R.BEN_SEX_COD"]}, "/variables/0", "searched in"),
    ({"territory": {"departements": ["75", "96"]}}, "/territory/departements/1", "IR_DPT_V"),
    ({"all": [{"sex": "male", "age": {"min": 1}}]}, "/all/0", "unexpected key"),
    ({"any": []}, "/any", "minItems"),
])
def test_invalid_criteria_name_the_bad_path(criteria: dict[str, Any], path: str, words: str) -> None:
    found = _errors(None, criteria)
    assert path in found, found
    assert words in found[path]


@pytest.mark.parametrize(("criteria", "path", "words"), [
    ({"codes": ["E11"], "system": "ICD10", "variables": ["T_MCOaaB.DGN_REL"]}, "/variables/0",
     "described in the dictionary but the lake's published T_MCOaaB does not hold it"),
    ({"all": [{"sex": "male"}, {"codes": ["E11"], "system": "ICD10", "variables": ["KI_CCI_R.DCD_CIM_COD"]}]},
     "/all/1/variables/0", "KI_CCI_R has no published version"),
    ({"any": [{"sex": "male"}, {"codes": ["AAFA001"], "system": "CCAM"}]}, "/any/1/system",
     "T_MCOaaA has no published version"),
])
def test_the_dictionary_and_the_lake_are_checked(lake: Hub, criteria: dict[str, Any], path: str, words: str) -> None:
    assert cr.validate(None, criteria) == []  # valid in itself...
    found = _errors(lake, criteria)  # ...but not against what this hub holds
    assert words in found.get(path, ""), found
    with pytest.raises(BadInput, match=path):
        cr.count_persons(lake, criteria)


def test_default_variables_need_only_one_held_column(lake: Hub) -> None:
    # the ICD-10 defaults include T_MCOaaB.DGN_REL, which this lake does not hold: the others suffice
    assert cr.validate(lake, {"codes": ["E11"], "system": "ICD10"}) == []


def test_equivalent_writings_have_one_canonical_form() -> None:
    a = {"all": [{"sex": "female"}, {"codes": ["A10BA02", "a10b", "A10B"], "system": "ATC"},
                 {"all": [{"territory": {"departements": ["75", "075", "2a"]}}]}]}
    b = {"all": [{"all": [{"codes": ["A10B"], "system": "ATC", "match": "prefix",
                           "variables": ["ER_PHA_F.PHA_PRS_C13"]}, {"not": {"not": {"sex": "female"}}}]},
                 {"territory": {"departements": ["02A", "075"]}}, {"sex": "female"}]}
    assert cr.canonical(a) == cr.canonical(b)
    assert cr.canonical({"any": [{"sex": "male"}]}) == cr.canonical({"sex": "male"})
    assert cr.canonical({"sex": "male"}) != cr.canonical({"sex": "female"})
    assert json.loads(cr.canonical(a))["all"][0]["codes"] == ["A10B"]


def test_sql_is_a_sqlglot_tree_with_literal_values_and_transpiles() -> None:
    criteria = {"all": [{"codes": ["E11"], "system": "ICD10"}, {"age": {"min": 18}, "at": "2023-01-01"}]}
    tree = cr.population_query(criteria)
    literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    assert {"E11", "2023-01-01"} <= literals
    spark, error = to_spark(cr.count_query(criteria))
    assert error is None and spark is not None and "INTERSECT" in spark.upper()


def test_an_injection_attempt_in_a_code_stays_a_literal(lake: Hub) -> None:
    """The schema refuses such a code; compiled anyway (bypassing validation), it is one string literal that
    matches nothing — not SQL."""
    evil = "E11') OR 1=1 --"
    criteria = {"codes": [evil], "system": "CIP13", "match": "exact"}
    tree = cr.count_query(criteria)
    assert cr.normal_code("CIP13", evil) == "E11')OR1=1--"  # codes lose their spaces
    assert "E11')OR1=1--" in {lit.this for lit in tree.find_all(exp.Literal)}
    assert "'E11'')OR1=1--'" in tree.sql(dialect="duckdb")  # one string, its quote doubled
    ok = {"codes": ["3400922152134"], "system": "CIP13"}
    with Engine() as engine:
        cr.bind_population(lake, engine, ok)
        assert engine.fetch_all(tree, purpose="test")[0][0] == 0
        assert engine.fetch_all(cr.count_query(ok), purpose="test")[0][0] == 1
        assert all(r.spark is not None for r in engine.recorded if "count" in r.purpose)


def test_population_sql_validates_first(lake: Hub) -> None:
    with pytest.raises(BadInput, match="/all/0/sex"):
        cr.population_sql(lake, {"all": [{"sex": "x"}]})
    assert isinstance(cr.population_sql(lake, {"sex": "male"}), exp.Select)


def test_criteria_check_command(lake: Hub, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    env = {"GUICHET_HOME": str(lake.home)}
    good = run_cli(["criteria", "check", str(EXAMPLE), "--json"], env)
    assert good.code == 0, good.stderr
    answer = json.loads(good.stdout)
    assert answer["valid"] and answer["canonical"] == json.loads(cr.canonical(json.loads(EXAMPLE.read_text())))
    assert answer["fingerprint"] == cr.fingerprint(cr.canonical(answer["canonical"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"all": [{"sex": "male"}, {"codes": ["E11"], "system": "ICD10",
                                                          "variables": ["T_MCOaaB.DGN_REL"]}]}))
    r = run_cli(["criteria", "check", str(bad), "--json"], env)
    assert r.code == 1
    assert [e["path"] for e in json.loads(r.stdout)["errors"]] == ["/all/1/variables/0"]
    offline = run_cli(["criteria", "check", str(bad), "--offline", "--json"])  # no hub: schema and meaning
    assert offline.code == 0 and json.loads(offline.stdout)["valid"]
    (tmp_path / "not.json").write_text("{")
    broken = run_cli(["criteria", "check", str(tmp_path / "not.json"), "--offline"])
    assert broken.code == 2 and "not JSON" in broken.stderr and "Traceback" not in broken.stderr
