"""Bodies are bounded per route and, where an account is needed, read only after authentication (issue item:
unauthenticated requests could exhaust memory). Driven at the ASGI level, so that the test sees exactly how
much of the body the app pulled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.hub import Hub
from guichet.web import create_app
from tests.conftest import make_hub

CHUNK = 64 * 1024


@pytest.fixture
def app_and_token(tmp_path: Path) -> Iterator[tuple[Any, str, Hub]]:
    hub = make_hub(tmp_path)
    accounts.add_user(hub, system_actor(), username="rita", roles=["researcher"], org="Université")
    token = accounts.issue_token(hub, system_actor(), username="rita").token
    yield create_app(hub.config), token, hub
    hub.close()


def _call(app: Any, method: str, path: str, headers: dict[str, str], chunks: int,
          chunk: bytes = b"x" * CHUNK) -> tuple[int, int]:
    """Send up to ``chunks`` body chunks; answers (status, chunks the app pulled)."""
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        if pulled > chunks:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    asyncio.run(run())
    return status, pulled


HUGE = str(500 * 1024 * 1024)


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/deliveries"), ("PUT", "/api/me/locale"),
                                              ("PUT", "/api/deliveries/dl0000000000000000/chunks/0"),
                                              ("POST", "/deliveries")])
def test_no_body_is_read_without_an_account(app_and_token: tuple[Any, str, Hub], method: str, path: str) -> None:
    app = app_and_token[0]
    for headers in ({"content-type": "application/json"},  # chunked: no declared length
                    {"content-type": "application/json", "content-length": "300"}):
        status, pulled = _call(app, method, path, headers, chunks=8000)  # 500 MB if it were read
        assert status == 401 and pulled == 0, (headers, status, pulled)


def test_a_declared_length_over_the_limit_is_refused_before_anything(app_and_token: tuple[Any, str, Hub]) -> None:
    app, token = app_and_token[0], app_and_token[1]
    for auth in ({}, {"authorization": f"Bearer {token}"}):
        status, pulled = _call(app, "PUT", "/api/me/locale", {"content-length": HUGE, **auth}, chunks=8000)
        assert status == 413 and pulled == 0


def test_a_streamed_body_stops_at_the_limit_even_with_an_account(app_and_token: tuple[Any, str, Hub]) -> None:
    app, token = app_and_token[0], app_and_token[1]
    status, pulled = _call(app, "PUT", "/api/me/locale", {"authorization": f"Bearer {token}",
                                                         "content-type": "application/json"}, chunks=16000)
    assert status == 413 and pulled <= 256 * 1024 // CHUNK + 1  # 1 GB of invalid JSON: read up to 256 KiB only


def test_a_public_form_is_bounded_too(app_and_token: tuple[Any, str, Hub]) -> None:
    status, pulled = _call(app_and_token[0], "POST", "/login",
                           {"content-type": "application/x-www-form-urlencoded"}, chunks=16000)
    assert status == 413 and pulled <= 256 * 1024 // CHUNK + 1


def test_an_over_long_number_in_a_path_is_a_clear_refusal(app_and_token: tuple[Any, str, Hub]) -> None:
    from fastapi.testclient import TestClient

    app, token = app_and_token[0], app_and_token[1]
    with TestClient(app) as client:
        r = client.get("/datasets/T/v" + "9" * 40 + "/quality", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 422 and "version" in json.dumps(r.json() if "json" in r.headers.get(
            "content-type", "") else r.text)
