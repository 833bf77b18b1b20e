"""Calendar arithmetic of permits: months added the way deadlines are counted (31 Jan + 1 month = 28/29 Feb)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

RESULTS_MONTHS = 18  # results are due 18 months after the permit ends
DELETE_MONTHS = 6  # the data is deleted (keys shredded) within 6 months of the end
EXTENSION_NOTICE_DAYS = 30  # an extension is asked at least a month before the end
SHRED_GRACE_DAYS = 30  # the project's keys are shredded this many days after the end (hub property)
MAX_SHRED_GRACE_DAYS = 181  # at most 6 months: the shortest six calendar months (1 Sep to 1 Mar) are 181 days


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_dates(ended: date) -> tuple[date, date]:
    """When the results are due and when the data must be gone, for a permit that ended on ``ended``."""
    return add_months(ended, RESULTS_MONTHS), add_months(ended, DELETE_MONTHS)


def shred_grace_days(properties: dict[str, object]) -> int:
    """The hub's grace period between a permit's end and the shredding of its project's keys
    (``key_shred_grace_days``, default 30, at most 181 days: six months). A value above is refused."""
    from guichet.errors import BadInput

    raw = properties.get("key_shred_grace_days", SHRED_GRACE_DAYS)
    try:
        days = int(str(raw))
    except ValueError:
        raise BadInput("key_shred_grace_days: a whole number of days") from None
    if not 0 <= days <= MAX_SHRED_GRACE_DAYS:
        raise BadInput(f"key_shred_grace_days: {days} days is refused; between 0 and {MAX_SHRED_GRACE_DAYS} "
                       "(six months at most)")
    return days


def day_after(day: date) -> date:
    return day + timedelta(days=1)
