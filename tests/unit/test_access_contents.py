"""The application's JSON Schema and its example: the example is valid and is the one the demo uses; a
problem names its path and never quotes a value."""

from __future__ import annotations

import json
from pathlib import Path

from guichet.access.contents import EXAMPLE_PATH, schema_problems, sections_changed

REPO = Path(__file__).resolve().parents[2]


def test_the_example_is_valid_and_is_the_demos() -> None:
    example = json.loads((REPO / "examples" / "application.json").read_text(encoding="utf-8"))
    assert schema_problems(example) == []
    assert json.loads(EXAMPLE_PATH.read_text(encoding="utf-8")) == example


def test_problems_name_their_path_without_quoting_values() -> None:
    example = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))
    example["purpose"] = "1 85 05 75 123 456 73"
    example["duration_months"] = 0
    example["data"][1]["variables"] = []
    example["extra_field"] = True
    del example["ethics"]
    found = {p.path: p.message for p in schema_problems(example)}
    assert found["purpose"].startswith("must be one of")
    assert found["duration_months"] == "minimum is 1"
    assert found["data[1].variables"] == "minItems is 1"
    assert found[""] in ("required field 'ethics' is missing", "unknown field 'extra_field'")
    assert "123" not in json.dumps(found)
    assert schema_problems([]) and schema_problems({"data": [{"product": 1}]})


def test_sections_changed() -> None:
    assert sections_changed({"a": 1, "b": [1]}, {"a": 1, "b": [2], "c": 3}) == [("b", "changed"), ("c", "added")]
    assert sections_changed({"a": 1}, {}) == [("a", "removed")]


def test_the_guard_refuses_identifiers_anywhere_but_the_criteria_code_lists() -> None:
    import pytest

    from guichet.access.services import _guard_content
    from guichet.errors import Refused

    example = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))
    example["criteria"] = {"any": [{"codes": ["3400930000000", "3400936403114"], "system": "CIP13"}]}
    _guard_content(example)  # CIP13 codes are NIR-shaped and allowed in a code list
    for where in ("title", "safeguards"):
        bad = json.loads(json.dumps(example))
        bad[where] = "patient 1 85 05 75 123 456 73"
        with pytest.raises(Refused, match=f"application.{where}: refused, it looks like it contains a NIR"):
            _guard_content(bad)
    bad = json.loads(json.dumps(example))
    bad["data_users"][0]["name"] = "185057512345673"
    with pytest.raises(Refused, match=r"application.data_users\[0\].name"):
        _guard_content(bad)
    bad = json.loads(json.dumps(example))
    bad["criteria"] = {"any": [{"codes": ["ok"], "system": "ATC", "note": "185057512345673"}]}
    with pytest.raises(Refused):
        _guard_content(bad)
    bad["criteria"] = {"any": [{"codes": ["1 85 05 75 123 456 73"], "system": "ATC"}]}
    with pytest.raises(Refused):
        _guard_content(bad)
