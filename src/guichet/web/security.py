"""Signed cookies, CSRF tokens and client hashing. Pure functions of a key; no I/O.

Each use gets its own key derived from the hub's secret (HMAC with a label), so that a value signed for
one purpose (a pending second-factor step) can never be replayed for another (a session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keys:
    """The web keys of one hub, derived once from the hub's secret."""

    root: bytes

    def derive(self, label: str) -> bytes:
        return _derive(self.root, label)

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self.derive(purpose), body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload of a value this hub signed for ``purpose``; None for anything else."""
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        expected = _b64(hmac.new(self.derive(purpose), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None

    def csrf_token(self, binding: str) -> str:
        """The CSRF token for a session (or, before login, for the browser's pre-session cookie)."""
        return _b64(hmac.new(self.derive("csrf"), binding.encode(), hashlib.sha256).digest())

    def csrf_ok(self, binding: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(binding), token or "")

    def client_hash(self, address: str) -> str:
        """A keyed hash of a client address: enough to count attempts, useless to find the person."""
        return hmac.new(self.derive("client"), address.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=64)
def _derive(root: bytes, label: str) -> bytes:
    # Derived once per purpose: signing and checking run on every request.
    return hmac.new(root, f"guichet-web:{label}".encode(), hashlib.sha256).digest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def session_id(secret: str) -> str:
    """What the database stores for a session secret (a copy of the table does not let anyone in)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after a form; anything else (another site, a scheme) becomes ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 for c in target):
        return default
    return target
