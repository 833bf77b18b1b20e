"""Fixtures shared by the custodian's test tiers: a custodian of each implementation, as the hub and as a
producer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.custodian import LocalCustodian
from guichet.custodian.grants import KIND_HUB, KIND_PRODUCER, Grant
from guichet.custodian.home import CustodianHome
from guichet.custodian.tokens import issue_token

PRODUCER_DOMAIN = "snds"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, *options: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guichet", "custodian", "serve", "--custodian-home", str(home),
             "--host", "127.0.0.1", "--port", str(self.port), *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):  # noqa: S310
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("custodian server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture
def custodian_server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "custodian"
    CustodianHome(home).init()
    server = Server(home)
    yield server
    server.stop()


def _custodian(request: pytest.FixtureRequest, tmp_path: Path, grant: Grant) -> tuple[object, CustodianHome]:
    """A custodian of the implementation ``request.param`` names, for a caller with ``grant``: in-process
    with that grant, or over HTTP with a token of that kind."""
    if request.param == "in-process":
        home = CustodianHome(tmp_path / "custodian")
        home.init()
        return LocalCustodian(home, caller=grant), home
    from guichet.custodian.http_client import HttpCustodian

    server: Server = request.getfixturevalue("custodian_server")
    home = CustodianHome(server.home)
    token = issue_token(home, grant.caller, kind=grant.kind, domain=grant.domain)
    return HttpCustodian(server.url, token=token), home


@pytest.fixture(params=["in-process", "http"])
def any_custodian(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[object, CustodianHome]:
    """(custodian, its home) as the hub sees it: the one test suite runs on both implementations."""
    return _custodian(request, tmp_path, Grant("hub-test", KIND_HUB))


@pytest.fixture(params=["in-process", "http"])
def any_producer(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[object, CustodianHome]:
    """(custodian, its home) as a producer of the ``snds`` domain sees it."""
    return _custodian(request, tmp_path, Grant("producer-test", KIND_PRODUCER, PRODUCER_DOMAIN))
