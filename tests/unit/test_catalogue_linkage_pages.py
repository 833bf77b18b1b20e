"""The linkage pair page's comparison: both sides' fields side by side, never a pseudonym-shaped value."""

from __future__ import annotations

from guichet.linkage.web import WITHHELD, side_by_side


def test_side_by_side_marks_agreement_and_withholds_pseudonyms() -> None:
    rows = side_by_side({"certificate": {"sex": "2", "birth_year": 1950, "commune": "69123", "key": "ABCDEFGHIJKLMNOPQ"},
                         "person": {"sex": "2", "birth_year": 1951, "dept": "69", "key": "ABCDEFGHIJKLMNOPQ"}})
    by = {r["field"]: r for r in rows}
    assert [r["field"] for r in rows] == ["sex", "birth_year", "commune", "key", "dept"]
    assert by["sex"]["same"] and not by["birth_year"]["same"]
    assert by["commune"]["person"] is None and not by["commune"]["same"]
    assert by["key"]["certificate"] == WITHHELD == by["key"]["person"] and not by["key"]["same"]
    assert "ABCDEFGHIJKLMNOPQ" not in repr(rows)
