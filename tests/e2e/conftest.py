"""The browser tier's fixtures: one headless Chromium per test module, shared by the module's tests; each test
opens its own context (cookies and storage of its own).

Per module, not per session: `make test` runs every tier in one pytest session, so a process that ran a browser
module goes on with other tiers' modules, and Playwright's synchronous API keeps an asyncio event loop running
in the process while it is started (``asyncio.run`` then fails in any later test of that process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import launch_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch_browser()
