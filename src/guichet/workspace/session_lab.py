"""A workspace's JupyterLab, hub side: where its Unix socket lives, the state file the portal's proxy reads,
and a small HTTP client over that socket (the watchdog's idle check, the proxy). The lab itself runs in a
session's sandbox (``session_sandbox`` with ``session_inside._run_lab``); ``session_services.lab`` starts it.

Only the standard library: the hub, the portal and ``guichet demo`` work without the ``notebook`` extra, which
only the sandbox's runtime needs (``notebook_missing`` says so in one line).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guichet.hub import Hub
from guichet.workspace.build import workspace_dir

LABS = "lab"  # HOME/workspaces/PERMIT/lab/<person>/ : one lab per person and permit
SOCKET = "lab.sock"
STATE = "lab.json"
MODULES = ("jupyterlab", "jupyter_server", "ipykernel", "nbclient", "nbformat")


def notebook_missing() -> str | None:
    """One line when the ``notebook`` extra is not installed (the sandbox runs the hub's own runtime)."""
    missing = [m for m in MODULES if _absent(m)]
    if missing:
        return (f"JupyterLab is not installed ({', '.join(missing)} missing): "
                "install guichet[notebook] (pip install 'guichet[notebook]')")
    return None


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a parent package missing, or the module blocked (sys.modules[m] = None)
        return True


def lab_dir(hub: Hub, permit_id: str, who: str) -> Path:
    """A person's lab folder on a permit (bound read-write at ``/workspace/lab`` in the sandbox): named by a
    hash of the user name, so that no name reaches a path."""
    return workspace_dir(hub, permit_id) / LABS / hashlib.sha256(who.encode("utf-8")).hexdigest()[:16]


def base_url(permit_id: str) -> str:
    return f"/workspaces/{permit_id}/lab/"


def read_state(hub: Hub, permit_id: str, who: str) -> dict[str, Any] | None:
    """The running lab of ``who`` on the permit (socket, token, run), or None."""
    path = lab_dir(hub, permit_id, who) / STATE
    if path.is_symlink() or not path.is_file():
        return None
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if state.get("who") == who and state.get("permit") == permit_id else None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    path = folder / STATE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket. The folder is opened first and the socket reached through
    ``/proc/self/fd/N/lab.sock``: a socket's path is limited to 107 bytes, a hub home's is not."""

    def __init__(self, folder: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.folder = folder

    def connect(self) -> None:
        dirfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(f"/proc/self/fd/{dirfd}/{SOCKET}")
            except OSError:
                sock.close()
                raise
        finally:
            os.close(dirfd)
        self.sock = sock


def connection(folder: Path, timeout: float = 10.0) -> http.client.HTTPConnection:
    return _UnixConnection(folder, timeout)


def api(folder: Path, token: str, path: str, timeout: float = 5.0) -> Any:
    """GET a JSON answer of the lab's API (``path`` below its base URL, e.g. ``api/status``); None when the lab
    does not answer."""
    conn = connection(folder, timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"token {token}", "Host": "localhost"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return None
        return json.loads(body)
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def shutdown(folder: Path, token: str, prefix: str) -> None:
    """Ask the lab to end (its kernels shut down first); nothing when it does not answer."""
    conn = connection(folder, 5.0)
    try:
        conn.request("POST", prefix + "api/shutdown", headers={"Authorization": f"token {token}", "Host": "localhost"})
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()


def idle_seconds(folder: Path, token: str, prefix: str) -> float | None:
    """How long the lab has been idle: no request from a client (an open JupyterLab tab polls, so it counts as
    activity) and no kernel activity; 0 while a kernel is busy; None when the lab does not answer."""
    status = api(folder, token, prefix + "api/status")
    kernels = api(folder, token, prefix + "api/kernels?no_track_activity=1")  # this poll is not activity
    if not isinstance(status, dict) or not isinstance(kernels, list):
        return None
    if any(isinstance(k, dict) and k.get("execution_state") == "busy" for k in kernels):
        return 0.0
    stamps = [status.get("last_activity"), status.get("started")]
    stamps += [k.get("last_activity") for k in kernels if isinstance(k, dict)]
    latest = max((_when(s) for s in stamps if isinstance(s, str)), default=None)
    if latest is None:
        return None
    return max(0.0, (datetime.now(UTC) - latest).total_seconds())


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
