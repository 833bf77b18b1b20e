"""The workflow tests' hub: the lake-backed hub of ``tests/access_support.py`` (criteria are checked against
the lake's columns at submission, as in production), its accounts in distinct organisations and panels; and
``lake_unchecked`` for the few tests that build a hub of their own without data (production mode)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from guichet.access import contents
from tests.access_support import (
    ACCOUNTS,
    APPLICANT_ORG,
    EXAMPLE,
    PANEL_MEMBERS,
    example,
    hub_with_lake,
    prepare,
)

__all__ = ["ACCOUNTS", "APPLICANT_ORG", "EXAMPLE", "PANEL_MEMBERS", "example", "hub_with_lake", "lake_unchecked",
           "prepare"]


@contextmanager
def lake_unchecked() -> Iterator[None]:
    """For a hub that holds no data: criteria are not checked against the lake's columns (the criteria
    language's own tests and the lake-backed workflow tests do check them)."""
    saved = contents.CHECK_AGAINST_LAKE
    contents.CHECK_AGAINST_LAKE = False
    try:
        yield
    finally:
        contents.CHECK_AGAINST_LAKE = saved
