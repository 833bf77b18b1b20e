"""Bearer tokens of the HTTP custodian: issued for one caller of one kind, kept as SHA-256 hashes.

``tokens.json`` maps a token id to its caller, kind, domain (producers), hash and date. A token is
``gcu_<id>_<secret>``; only the secret's SHA-256 is kept, and the token is shown once. Tokens issued
before kinds existed carry none: they are refused with a message telling the operator to issue a new
one, rather than treated as the hub's (which would hand a producer's old token every hub scope).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from typing import Any

from guichet.custodian.grants import CALLER_RE, KIND_PRODUCER, TOKEN_KINDS, Grant
from guichet.custodian.home import TOKENS_FILE, CustodianHome, now_iso, write_json_private
from guichet.custodian.keys import check_domain
from guichet.errors import BadInput

TOKEN_PREFIX = "gcu"  # noqa: S105 - a prefix, not a secret
REISSUE = "issue a new one with 'guichet custodian token --caller NAME --kind producer|hub'"


class AuthError(Exception):
    """A request the custodian cannot attribute to a caller: 401 without a token, 403 with a bad one."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def issue_token(home: CustodianHome, caller: str, *, kind: str, domain: str | None = None) -> str:
    """A new token for ``caller`` of ``kind`` (a producer names its domain); only its SHA-256 is kept."""
    if not CALLER_RE.match(caller):
        raise BadInput("--caller: 1-64 characters from [A-Za-z0-9._-]")
    if kind not in TOKEN_KINDS:
        raise BadInput(f"--kind: must be one of {', '.join(TOKEN_KINDS)}")
    if kind == KIND_PRODUCER:
        if domain is None:
            raise BadInput("--domain: a producer token names the domain whose key it gets")
        check_domain(domain)
    elif domain is not None:
        raise BadInput("--domain: only a producer token names a domain")
    home.check()
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"caller": caller, "kind": kind, "sha256": hashlib.sha256(secret.encode()).hexdigest(),
                             "created_at": now_iso()}
    if domain is not None:
        entry["domain"] = domain
    with home.lock():
        data = _tokens(home)
        data[token_id] = entry
        write_json_private(home.path / TOKENS_FILE, {"tokens": data})
    return f"{TOKEN_PREFIX}_{token_id}_{secret}"


def _tokens(home: CustodianHome) -> dict[str, Any]:
    try:
        return dict(json.loads((home.path / TOKENS_FILE).read_text(encoding="utf-8"))["tokens"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInput(f"custodian home {home.path}: {TOKENS_FILE} is missing or damaged") from None


def grant_for(home: CustodianHome, authorization: str | None) -> Grant:
    """The grant of the bearer token in an ``Authorization`` header, or ``AuthError``."""
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthError(401, "missing bearer token")
    parts = authorization[7:].strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthError(403, "wrong token")
    entry = _tokens(home).get(parts[1])
    digest = hashlib.sha256(parts[2].encode()).hexdigest()
    if not isinstance(entry, dict) or not hmac.compare_digest(str(entry.get("sha256", "")), digest):
        raise AuthError(403, "wrong token")
    kind = entry.get("kind")
    if kind not in TOKEN_KINDS:
        raise AuthError(403, f"this token was issued before tokens had a kind and scopes; {REISSUE}")
    domain = entry.get("domain")
    if kind == KIND_PRODUCER and not isinstance(domain, str):
        raise AuthError(403, f"this producer token names no domain; {REISSUE}")
    return Grant(str(entry["caller"]), str(kind), domain if kind == KIND_PRODUCER else None)


def token_counts(home: CustodianHome) -> dict[str, int]:
    """Tokens per kind; ``without kind`` counts the old ones that are now refused."""
    counts = Counter(str(e.get("kind")) if e.get("kind") in TOKEN_KINDS else "without kind"
                     for e in _tokens(home).values() if isinstance(e, dict))
    return dict(sorted(counts.items()))
