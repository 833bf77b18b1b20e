"""The rules of a permit's validity, extension and revocation (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from guichet.errors import BadInput
from guichet.permits.dates import add_months, end_dates
from guichet.permits.issuing import check_extension, exclusion_until, period_of, revise, validity
from tests.permit_support import sample_document


def test_validity_is_capped_by_the_configured_maximum() -> None:
    assert validity(date(2026, 12, 7), 24, 60)[:2] == (date(2026, 12, 7), date(2028, 12, 6))
    assert validity(date(2026, 12, 7), 120, 60)[1] == date(2031, 12, 6)
    assert validity(date(2026, 1, 31), 1, 60)[1] == date(2026, 2, 27)


def test_month_arithmetic_and_end_dates() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert end_dates(date(2027, 4, 1)) == (date(2028, 10, 1), date(2027, 10, 1))


def test_one_extension_of_at_most_the_first_length_asked_a_month_before() -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)  # 365 days
    check_extension(start, end, date(2027, 12, 31), date(2026, 11, 1), already=False)
    with pytest.raises(BadInput, match="first length"):
        check_extension(start, end, date(2028, 1, 1), date(2026, 11, 1), already=False)
    with pytest.raises(BadInput, match="already extended"):
        check_extension(start, end, date(2027, 6, 30), date(2026, 11, 1), already=True)
    with pytest.raises(BadInput, match="at least 30 days"):
        check_extension(start, end, date(2027, 6, 30), date(2026, 12, 2), already=False)
    with pytest.raises(BadInput, match="after the current end"):
        check_extension(start, end, date(2026, 12, 31), date(2026, 11, 1), already=False)


def test_exclusion_is_up_to_five_years() -> None:
    assert exclusion_until(date(2026, 12, 7), 0) is None
    assert exclusion_until(date(2026, 12, 7), 5) == date(2031, 12, 7)
    assert exclusion_until(date(2028, 2, 29), 1) == date(2029, 2, 28)
    with pytest.raises(BadInput):
        exclusion_until(date(2026, 12, 7), 6)
    with pytest.raises(BadInput):
        exclusion_until(date(2026, 12, 7), -1)


def test_population_period_from_the_criteria() -> None:
    crit = {"all": [{"age": {"min": 18}, "at": "2023-01-01"},
                    {"codes": ["A10"], "during": {"from": "2023-01-01", "to": "2023-12-31"}}]}
    assert period_of(crit) == {"start": "2023-01-01", "end": "2023-12-31"}
    assert period_of(None) == {"start": None, "end": None}
    # a window with an end left out is open there (from A on; up to B), not the day it names
    assert period_of({"period": {"from": "2023-03-01"}}) == {"start": "2023-03-01", "end": None}
    assert period_of({"period": {"to": "2023-03-31"}}) == {"start": None, "end": "2023-03-31"}
    assert period_of({"all": [{"period": {"from": "2023-03-01"}},
                              {"codes": ["A10"], "during": {"from": "2023-01-01", "to": "2023-12-31"}}]}) == {
        "start": "2023-01-01", "end": None}


def test_a_revision_counts_and_records_the_change() -> None:
    doc = sample_document()
    nxt = revise(doc, date(2027, 1, 2), "remove_person bob", "left the team")
    assert nxt["revision"] == 2 and doc["revision"] == 1
    assert nxt["amendments"] == [{"revision": 2, "date": "2027-01-02", "change": "remove_person bob", "reason": "left the team"}]


def test_a_decision_is_published_within_30_working_days() -> None:
    from guichet.access.clocks import Calendar, due_date
    from guichet.permits.registry import PUBLICATION

    # decided Friday 18 Dec 2026: 30 working days without weekends, Christmas and New Year's Day (counted by hand)
    assert due_date(date(2026, 12, 18), PUBLICATION, Calendar("FR")) == date(2027, 2, 2)
    assert due_date(date(2026, 12, 18), PUBLICATION, Calendar("none")) == date(2027, 1, 29)
