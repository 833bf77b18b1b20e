"""Calendar arithmetic of permits: months added the way deadlines are counted (31 Jan + 1 month = 28/29 Feb)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

RESULTS_MONTHS = 18  # results are due 18 months after the permit ends
DELETE_MONTHS = 6  # the data is deleted (keys shredded) within 6 months of the end
EXTENSION_NOTICE_DAYS = 30  # an extension is asked at least a month before the end


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_dates(ended: date) -> tuple[date, date]:
    """When the results are due and when the data must be gone, for a permit that ended on ``ended``."""
    return add_months(ended, RESULTS_MONTHS), add_months(ended, DELETE_MONTHS)


def day_after(day: date) -> date:
    return day + timedelta(days=1)
