"""The applicant's form reads back what it shows: an application's contents -> the form's fields -> the same
contents; the basket adds each variable once; the placeholders of a basket's draft are found with their paths;
problems go under the section their path starts with."""

from __future__ import annotations

import json

from guichet.access.model import Problem
from guichet.access.pages import (
    PLACEHOLDER,
    add_to,
    by_section,
    content_of,
    draft_contents,
    form_values,
    placeholders,
)
from tests.access_support import example


def test_contents_survive_the_form() -> None:
    content = example()
    content["investigator"]["email"] = "alice@example.org"
    content["optout_exception"] = {"requested": True, "justification": "a rare disease"}
    content["brought_datasets"] = [{"name": "Cohort A", "description": "a regional cohort"}]
    back, found = content_of(form_values(content))
    assert found == []
    assert json.dumps(back, sort_keys=True) == json.dumps(content, sort_keys=True)


def test_unreadable_fields_are_problems_of_their_section() -> None:
    values = form_values(example())
    values.update(criteria="{not json", duration_months="two years")
    _content, found = content_of(values)
    assert {p.path for p in found} == {"criteria", "duration_months"}
    assert "not valid JSON (line 1, column 2)" in found[0].message


def test_the_basket_adds_each_variable_once_and_keeps_the_order() -> None:
    content = draft_contents({"product": "dcir", "table": "ER_PRS_F", "variables": ["A"]})
    assert add_to(content, "dcir", "ER_PRS_F", ["B", "A", "B"]) == 1
    assert add_to(content, "dcir", "ER_PHA_F", ["C"]) == 1
    assert [(d["table"], d["variables"]) for d in content["data"]] == [("ER_PRS_F", ["A", "B"]), ("ER_PHA_F", ["C"])]


def test_a_basket_draft_lists_its_placeholders_and_a_written_one_none() -> None:
    draft = draft_contents({"product": "dcir", "table": "ER_PRS_F", "variables": ["A"]})
    paths = {p.path for p in placeholders(draft)}
    assert {"title", "investigator.name", "data_users[0].role", "ethics.assessment", "public_summary"} <= paths
    assert all(PLACEHOLDER not in str(v) for k, v in example().items())
    assert placeholders(example()) == []


def test_problems_go_under_their_section() -> None:
    found = by_section([Problem("data[1].variables[0]", "x"), Problem("criteria./all/0", "y"),
                        Problem("", "z"), Problem("ethics.assessment", "w")])
    assert sorted(found) == ["criteria", "data", "ethics", "title"]
