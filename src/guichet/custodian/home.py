"""The custodian's home: its folder (0700), its files (0600), its master secret and its state.

Layout (see ``docs/custodian.md``)::

    master.key              the master secret (32 random bytes, base64); escrowed by Shamir shares
    state.json              hub-pseudonym generation, issued domains, a pending rotation (no secret)
    tokens.json             HTTP callers, their kind (and a producer's domain), SHA-256 of their tokens
    projects/<id>.key       a project's key-encryption key and pseudonym key, sealed under the master
    projects/shredded.json  projects whose keys were destroyed (crypto-shredding)
    correspondence/*.parquet  level-1 → hub pseudonyms, encrypted Parquet segments
    logs/calls.jsonl        one line per call: when, caller, operation, purpose, count, outcome

Everything long-lived is derived from the master secret with HKDF-SHA-256 and a label, so that the
escrowed master alone rebuilds a custodian that reads the lake. Project keys are random and never
escrowed: destroying them is final (crypto-shredding), and extracts can be rebuilt from the lake.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from guichet.config import write_private_file
from guichet.errors import BadInput, Refused

MASTER_FILE = "master.key"
STATE_FILE = "state.json"
TOKENS_FILE = "tokens.json"
FOLDERS = ("projects", "correspondence", "logs")
STATE_FORMAT = "guichet-custodian-state/1"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def derive(master: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode("utf-8")).derive(master)


def write_json_private(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write_private_file(tmp, json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def make_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


class CustodianHome:
    """One custodian folder. Checks its permissions on every open; never shares a key with the hub."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()

    # -- creation and checks --------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / MASTER_FILE).is_file()

    def init(self, master: bytes | None = None, state: dict[str, Any] | None = None) -> bool:
        """Create the home if needed (idempotent). Returns True when it was created now."""
        make_folder(self.path)
        for name in FOLDERS:
            make_folder(self.path / name)
        if self.exists():
            self.check()
            return False
        secret = master if master is not None else os.urandom(32)
        if len(secret) != 32:
            raise BadInput("custodian master secret: must be 32 bytes")
        write_private_file(self.path / MASTER_FILE, base64.b64encode(secret).decode() + "\n")
        base = {"format": STATE_FORMAT, "created_at": now_iso(), "hub_generation": 1, "domains": [],
                "rotation": None, "escrow": None}
        write_json_private(self.path / STATE_FILE, {**base, **(state or {})})
        write_json_private(self.path / TOKENS_FILE, {"tokens": {}})
        return True

    def check(self) -> None:
        """Refuse a home others could read: every folder 0700, every file 0600."""
        if not self.exists():
            raise BadInput(f"custodian home {self.path}: not initialised (run 'guichet custodian init')")
        for root, dirs, files in os.walk(self.path):
            for name in [*dirs, ""]:
                p = Path(root) / name
                if stat.S_IMODE(p.stat().st_mode) & 0o077:
                    raise Refused(f"custodian home: {p} must be 0700 (owner only)")
            for name in files:
                p = Path(root) / name
                if stat.S_IMODE(p.stat().st_mode) & 0o077:
                    raise Refused(f"custodian home: {p} must be 0600 (owner only)")

    # -- secrets and state ----------------------------------------------------------------------------
    def master(self) -> bytes:
        raw = (self.path / MASTER_FILE).read_text(encoding="ascii").strip()
        try:
            secret = base64.b64decode(raw, validate=True)
        except ValueError:
            raise BadInput(f"custodian home {self.path}: {MASTER_FILE} is damaged") from None
        if len(secret) != 32:
            raise BadInput(f"custodian home {self.path}: {MASTER_FILE} is damaged")
        return secret

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BadInput(f"custodian home {self.path}: {STATE_FILE} is missing or damaged") from None
        if data.get("format") != STATE_FORMAT:
            raise BadInput(f"custodian home {self.path}: {STATE_FILE} has an unknown format")
        return data

    def save_state(self, state: dict[str, Any]) -> None:
        write_json_private(self.path / STATE_FILE, state)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive lock across processes (HTTP workers, CLI commands) for state changes."""
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def log_call(self, caller: str, operation: str, purpose: str, count: int, outcome: str = "ok") -> None:
        """One line per call, refused or failed ones included. Callers pass only checked names (a purpose
        that failed its grammar is logged as ``?``), never a value."""
        line = json.dumps({"at": now_iso(), "caller": caller, "operation": operation, "purpose": purpose,
                           "count": count, "outcome": outcome}, sort_keys=True)
        path = self.path / "logs" / "calls.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def calls(self) -> list[dict[str, Any]]:
        path = self.path / "logs" / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
