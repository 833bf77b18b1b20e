"""A workspace's JupyterLab under test: started through ``session_services.lab`` in a thread, reached on its
Unix socket (REST with its token, kernels over a websocket — the protocol a browser speaks), stopped by
interrupting it like Ctrl-C would (``Lab.stop``) or by the hub (the watchdog, the idle check).

``MISSING`` says why the notebook tests cannot run (no ``guichet[notebook]``); with GUICHET_REQUIRE_ALL=1 the
test modules fail instead of skipping.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from guichet.workspace import session_lab, session_sandbox, session_services

MISSING = session_lab.notebook_missing()
if MISSING and os.environ.get("GUICHET_REQUIRE_ALL") == "1":
    raise RuntimeError(f"GUICHET_REQUIRE_ALL=1: {MISSING}")
SKIPS = [
    pytest.mark.skipif(session_sandbox.shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
    pytest.mark.skipif(MISSING is not None, reason=str(MISSING)),
]


def notebook(*cells: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {}, "execution_count": None,
                   "outputs": [], "source": c} for c in cells]})


class Lab:
    """One lab run of ``who`` on ``permit`` in a background thread."""

    def __init__(self, hub: Any, actor: Any, permit: str) -> None:
        self.hub, self.actor, self.permit = hub, actor, permit
        self.ready, self.stopping = threading.Event(), threading.Event()
        self.where: dict[str, Any] = {}
        self.result: Any = None
        self.kernel: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        def announce(where: dict[str, Any]) -> None:
            self.where = where
            self.ready.set()

        try:
            self.result = session_services.lab(self.hub, self.actor, permit_id=self.permit, announce=announce,
                                                  stop=self.stopping)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.result = exc
        self.ready.set()

    def start(self, timeout: float = 120) -> Lab:
        self.thread.start()
        assert self.ready.wait(timeout), "the lab did not answer in time"
        assert self.where, f"the lab did not start: {self.result!r}"
        return self

    @property
    def folder(self) -> Path:
        return session_lab.lab_dir(self.hub, self.permit, self.actor.username)

    @property
    def token(self) -> str:
        state = session_lab.read_state(self.hub, self.permit, self.actor.username)
        assert state is not None
        return str(state["token"])

    def get(self, path: str) -> Any:
        return session_lab.api(self.folder, self.token, session_lab.base_url(self.permit) + path)

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, bytes]:
        conn = session_lab.connection(self.folder)
        headers = {"Authorization": f"token {token}"} if token is not None else {}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, session_lab.base_url(self.permit) + path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def execute(self, code: str, timeout: float = 60) -> dict[str, Any]:
        """Run ``code`` in a new kernel through the websocket; answer its printed text and its error name."""
        import websocket

        if self.kernel is None:  # one kernel, as a notebook's
            status, body = self.request("POST", "api/kernels", self.token)
            assert status == 201, body
            self.kernel = json.loads(body)["id"]
        kernel = self.kernel
        dirfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(f"/proc/self/fd/{dirfd}/{session_lab.SOCKET}")
        os.close(dirfd)
        ws = websocket.create_connection(
            f"ws://localhost{session_lab.base_url(self.permit)}api/kernels/{kernel}/channels", socket=sock,
            header=[f"Authorization: token {self.token}"], timeout=timeout)
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3"}, "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out: dict[str, Any] = {"text": "", "error": None}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out["text"] += msg["content"]["text"]
                elif kind == "error":
                    out["error"] = f"{msg['content']['ename']}: {msg['content']['evalue']}"
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return out
        finally:
            ws.close()
        raise AssertionError(f"the cell did not finish in {timeout} s: {out}")

    def stop(self) -> Any:
        """Ask the lab to stop (at the watchdog's next check), and wait for the service's answer."""
        self.stopping.set()
        return self.wait()

    def wait(self, timeout: float = 60) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the lab did not stop"
        return self.result


def sandbox_sockets(root_pid: int) -> dict[str, list[str]]:
    """The sockets held by the sandboxes' processes — those under a bubblewrap process descending from
    ``root_pid``, not the test process itself nor its other children (a Spark JVM of an earlier test holds
    TCP sockets on 127.0.0.1) — read from /proc: the TCP and UDP ones (in each process's own network
    namespace) and the Unix ones' paths."""

    def children(pid: int) -> list[int]:
        out: list[int] = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            listed = task / "children"
            if listed.exists():
                out += [int(c) for c in listed.read_text().split()]
        return out

    def comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    pids: list[int] = []
    todo, inside = [(root_pid, False)], False
    while todo:
        pid, inside = todo.pop()
        inside = inside or comm(pid) == "bwrap"
        if inside:
            pids.append(pid)
        todo += [(c, inside) for c in children(pid)]
    found: dict[str, list[str]] = {"inet": [], "unix": []}
    for pid in pids:
        try:
            inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                      if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
        except OSError:
            continue
        for table in ("tcp", "tcp6", "udp", "udp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[9] in inodes:
                    found["inet"].append(f"{table} {cols[1]}")
        for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 7 and cols[6] in inodes:
                found["unix"].append(cols[7])
    return found
