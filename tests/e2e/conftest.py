"""The browser tier's fixtures: one headless Chromium per session of tests (per xdist worker), shared by
every module; each test opens its own context (cookies and storage of its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import launch_browser


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    yield from launch_browser()
