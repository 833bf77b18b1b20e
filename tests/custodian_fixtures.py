"""Fixtures shared by the custodian's test tiers: a custodian of each implementation."""

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
from guichet.custodian.home import CustodianHome


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guichet", "custodian", "serve", "--custodian-home", str(home),
             "--host", "127.0.0.1", "--port", str(self.port)],
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


@pytest.fixture(params=["in-process", "http"])
def any_custodian(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[object, CustodianHome]]:
    """(custodian, its home): the one test suite runs on both implementations."""
    if request.param == "in-process":
        home = CustodianHome(tmp_path / "custodian")
        home.init()
        yield LocalCustodian(home), home
        return
    from guichet.custodian.http_client import HttpCustodian
    from guichet.custodian.server import issue_token

    server: Server = request.getfixturevalue("custodian_server")
    home = CustodianHome(server.home)
    yield HttpCustodian(server.url, token=issue_token(home, "hub-test")), home
