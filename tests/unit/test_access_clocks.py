"""Clock arithmetic: Easter and the French holidays, working days, months, stops and the extension."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guichet.access.clocks import (
    Calendar,
    Duration,
    add_months,
    due_date,
    easter,
    extend,
    france_holidays,
    parse_duration,
)
from guichet.access.workflow import workflow
from guichet.errors import BadInput

FR = Calendar()
NONE = Calendar("none")


@pytest.mark.parametrize("year,day", [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5)),
                                      (2027, date(2027, 3, 28)), (2000, date(2000, 4, 23)), (2038, date(2038, 4, 25)),
                                      (1818, date(1818, 3, 22)), (2285, date(2285, 3, 22)), (1943, date(1943, 4, 25))])
def test_easter(year: int, day: date) -> None:
    assert easter(year) == day


def test_french_holidays_2025() -> None:
    assert france_holidays(2025) == {
        date(2025, 1, 1), date(2025, 4, 21), date(2025, 5, 1), date(2025, 5, 8), date(2025, 5, 29),
        date(2025, 6, 9), date(2025, 7, 14), date(2025, 8, 15), date(2025, 11, 1), date(2025, 11, 11),
        date(2025, 12, 25)}


def test_working_days_skip_weekends_and_holidays() -> None:
    seven = Duration(7, "working_days")
    # Thursday 30 April 2026: Fri 1 May and Fri 8 May are holidays.
    assert due_date(date(2026, 4, 30), seven, FR) == date(2026, 5, 13)
    assert due_date(date(2026, 4, 30), seven, NONE) == date(2026, 5, 11)
    # Friday: the next Monday is the first working day.
    assert due_date(date(2026, 12, 4), Duration(1, "working_days"), FR) == date(2026, 12, 7)
    # Christmas and New Year.
    assert due_date(date(2026, 12, 23), Duration(3, "working_days"), FR) == date(2026, 12, 29)
    extra = Calendar("FR", frozenset({date(2026, 12, 24)}))
    assert due_date(date(2026, 12, 23), Duration(3, "working_days"), extra) == date(2026, 12, 30)


def test_months_clamp_and_land_on_a_working_day() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 2) == date(2027, 1, 30)
    assert due_date(date(2026, 12, 7), Duration(1, "months"), FR) == date(2027, 1, 7)
    # 14 June 2026 + 1 month = 14 July (holiday, Tuesday) -> 15 July.
    assert due_date(date(2026, 6, 14), Duration(1, "months"), FR) == date(2026, 7, 15)
    # 31 January 2027 + 1 month = Sunday 28 February -> Monday 1 March.
    assert due_date(date(2027, 1, 31), Duration(1, "months"), FR) == date(2027, 3, 1)
    assert due_date(date(2026, 12, 7), Duration(4, "weeks"), FR) == date(2027, 1, 4)


def test_stops_move_the_due_date_and_an_open_stop_has_none() -> None:
    start = date(2026, 12, 7)
    month = Duration(1, "months")
    assert due_date(start, month, FR, [(date(2026, 12, 10), None)]) is None
    # Ten days stopped: 7 January + 10 days = 17 January (Sunday) -> Monday 18 January.
    assert due_date(start, month, FR, [(date(2026, 12, 10), date(2026, 12, 20))]) == date(2027, 1, 18)
    # Working days: the days of a stop do not count.
    seven = Duration(7, "working_days")
    base = due_date(start, seven, FR)
    assert base == date(2026, 12, 16)
    stopped = due_date(start, seven, FR, [(date(2026, 12, 9), date(2026, 12, 11))])  # Wed and Thu stopped
    assert stopped == date(2026, 12, 18)
    # A stop and its resumption on the same day change nothing.
    assert due_date(start, seven, FR, [(date(2026, 12, 9), date(2026, 12, 9))]) == base


def test_extension() -> None:
    assert extend(date(2027, 2, 8), Duration(2, "months"), FR) == date(2027, 4, 8)
    assert extend(date(2027, 2, 8), Duration(3, "months"), FR) == date(2027, 5, 10)  # 8 May is a holiday, 9 a Sunday


def test_parse_duration_and_configuration() -> None:
    assert parse_duration("7 working days") == Duration(7, "working_days")
    assert parse_duration("1 month") == Duration(1, "months")
    assert parse_duration("4 weeks") == Duration(4, "weeks")
    assert str(Duration(1, "months")) == "1 month"
    for bad in ("", "seven days", "0 days", "3 fortnights", "-1 days"):
        with pytest.raises(BadInput):
            parse_duration(bad)
    flow = workflow({})
    assert flow.steps == ("completeness", "opinion", "decision")
    assert flow.durations["completeness"] == Duration(7, "working_days")
    assert flow.durations["opinion"] == Duration(1, "months")
    assert flow.durations["decision"] == Duration(2, "months")
    assert flow.durations["answer"] == Duration(4, "weeks")
    flow = workflow({"access_steps": ["decision", "completeness"], "access_decision": "3 months",
                     "access_holidays": "none", "access_extra_holidays": ["2027-01-04"]})
    assert flow.steps == ("completeness", "decision") and flow.first_state() == "submitted"
    assert flow.calendar.is_holiday(date(2027, 1, 4)) and not flow.calendar.is_holiday(date(2027, 1, 1))
    for bad in ({"access_steps": ["opinion"]}, {"access_steps": "decision"}, {"access_holidays": "US"},
                {"access_extra_holidays": ["tomorrow"]}, {"access_opinion": "soon"}):
        with pytest.raises(BadInput):
            workflow(bad)


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(days, st.integers(1, 60))
def test_working_day_due_dates_are_working_days_and_grow(start: date, n: int) -> None:
    due = due_date(start, Duration(n, "working_days"), FR)
    assert due is not None and FR.is_working_day(due) and due > start
    worked = sum(FR.is_working_day(start + timedelta(days=i)) for i in range(1, (due - start).days + 1))
    assert worked == n
    later = due_date(start, Duration(n + 1, "working_days"), FR)
    assert later is not None and later > due


@given(days, st.sampled_from(["days", "weeks", "months"]), st.integers(1, 24), st.integers(0, 60), st.integers(0, 60))
def test_a_stop_never_brings_a_due_date_earlier(start: date, unit: str, n: int, offset: int, length: int) -> None:
    duration = Duration(n, unit)  # type: ignore[arg-type]
    plain = due_date(start, duration, FR)
    stopped_on = start + timedelta(days=offset)
    with_stop = due_date(start, duration, FR, [(stopped_on, stopped_on + timedelta(days=length))])
    assert plain is not None and with_stop is not None
    assert with_stop >= plain and FR.is_working_day(with_stop)
    assert with_stop <= FR.next_working_day(plain + timedelta(days=length + 5))


@given(days, st.integers(1, 30), st.integers(0, 20), st.integers(0, 20))
def test_working_days_stopped_are_not_counted(start: date, n: int, offset: int, length: int) -> None:
    stop = (start + timedelta(days=offset + 1), start + timedelta(days=offset + 1 + length))
    due = due_date(start, Duration(n, "working_days"), FR, [stop])
    assert due is not None and FR.is_working_day(due) and not (stop[0] <= due < stop[1])
    counted = sum(FR.is_working_day(d) and not (stop[0] <= d < stop[1])
                  for d in (start + timedelta(days=i) for i in range(1, (due - start).days + 1)))
    assert counted == n
