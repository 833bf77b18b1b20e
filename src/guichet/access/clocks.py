"""Statutory clocks: durations in working days, days, weeks or months, a holiday calendar, clock stops
and extensions. Pure functions of dates (no database, no "today" inside): the workflow passes the dates.

Rules (documented in docs/access.md#clocks):

- *n working days* from a start: the n-th day after the start that is neither a Saturday, a Sunday, a
  holiday of the calendar nor a day when the clock was stopped.
- *n days / weeks / months* from a start: the same day n days / weeks / months later (a month later than
  31 January is the last day of February), moved by the number of days the clock was stopped, then to the
  next working day when it falls on a weekend or a holiday (a deadline never ends on a day the office is
  closed).
- a stop runs from the day it stopped (included) to the day it resumed (excluded); while a stop is open
  there is no due date: the clock is stopped.
- the default calendar is metropolitan France's public holidays (Code du travail, L3133-1), Easter-based
  ones computed: New Year, Easter Monday, 1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August,
  1 November, 11 November, Christmas.

The permits workflow reuses this module.
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from guichet.errors import BadInput

TimeUnit = Literal["working_days", "days", "weeks", "months"]
UNITS: tuple[TimeUnit, ...] = ("working_days", "days", "weeks", "months")
Stop = tuple[date, date | None]  # (stopped, resumed); resumed None while the clock is stopped


def easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def france_holidays(year: int) -> frozenset[date]:
    """Metropolitan France's eleven public holidays of ``year``."""
    e = easter(year)
    return frozenset({
        date(year, 1, 1), e + timedelta(days=1), date(year, 5, 1), date(year, 5, 8), e + timedelta(days=39),
        e + timedelta(days=50), date(year, 7, 14), date(year, 8, 15), date(year, 11, 1), date(year, 11, 11),
        date(year, 12, 25),
    })


CALENDARS = ("FR", "none")


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday to Friday, except the holidays of ``base`` and the ``extra`` dates."""

    base: str = "FR"
    extra: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.base not in CALENDARS:
            raise BadInput(f"holiday calendar {self.base!r}: one of {', '.join(CALENDARS)}")

    def is_holiday(self, day: date) -> bool:
        return day in self.extra or (self.base == "FR" and day in france_holidays(day.year))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first one after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: TimeUnit

    def __str__(self) -> str:
        word = {"working_days": "working day", "days": "day", "weeks": "week", "months": "month"}[self.unit]
        return f"{self.amount} {word}{'s' if self.amount != 1 else ''}"


_DURATION = re.compile(r"^\s*(\d{1,3})\s*(working[ _]days?|days?|weeks?|months?)\s*$", re.I)


def parse_duration(text: str, what: str = "duration") -> Duration:
    """'7 working days', '1 month', '4 weeks', '30 days'."""
    m = _DURATION.match(str(text))
    if not m:
        raise BadInput(f"{what}: {text!r} is not a duration such as '7 working days', '4 weeks' or '2 months'")
    word = m.group(2).lower().replace(" ", "_")
    unit: TimeUnit = "working_days" if word.startswith("working") else (word if word.endswith("s") else word + "s")  # type: ignore[assignment]
    amount = int(m.group(1))
    if amount < 1:
        raise BadInput(f"{what}: at least 1")
    return Duration(amount, unit)


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def _stopped(day: date, stops: Sequence[Stop]) -> bool:
    return any(s <= day and (r is None or day < r) for s, r in stops)


def stopped_days(stops: Iterable[Stop]) -> int | None:
    """Days the clock was stopped; None while a stop is open."""
    total = 0
    for s, r in stops:
        if r is None:
            return None
        total += max(0, (r - s).days)
    return total


def due_date(start: date, duration: Duration, cal: Calendar, stops: Sequence[Stop] = ()) -> date | None:
    """When a step started on ``start`` with ``duration`` is due, given the clock's stops (None: stopped)."""
    if any(r is None for _s, r in stops):
        return None
    if duration.unit == "working_days":
        day, left = start, duration.amount
        while left:
            day += timedelta(days=1)
            if cal.is_working_day(day) and not _stopped(day, stops):
                left -= 1
        return day
    if duration.unit == "months":
        end = add_months(start, duration.amount)
    else:
        end = start + timedelta(days=duration.amount * (7 if duration.unit == "weeks" else 1))
    return cal.next_working_day(end + timedelta(days=stopped_days(stops) or 0))


def extend(due: date, extension: Duration, cal: Calendar) -> date:
    """The due date after one extension of ``extension`` counted from the current due date."""
    result = due_date(due, extension, cal)
    assert result is not None  # no stops
    return result
