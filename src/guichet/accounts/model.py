"""Plain data about accounts, as services return it (never ORM objects)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
TOKEN_PREFIX = "gch"  # noqa: S105 - a prefix, not a secret
# What an organisation is (fees and conflict rules read it); an account's new organisation is academic
# unless told otherwise.
ORG_KINDS: tuple[str, ...] = ("academic", "public_body", "industry", "sme", "producer", "hub")
DEFAULT_ORG_KIND = "academic"


@dataclass(frozen=True)
class UserInfo:
    username: str
    org: str
    roles: tuple[str, ...]
    disabled: bool
    has_password: bool
    has_totp: bool
    created_at: datetime
    org_kind: str = DEFAULT_ORG_KIND

    def to_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "org": self.org,
            "org_kind": self.org_kind,
            "roles": list(self.roles),
            "disabled": self.disabled,
            "has_password": self.has_password,
            "has_totp": self.has_totp,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str  # shown once, never stored
    expires_at: datetime
    scopes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"token_id": self.token_id, "token": self.token, "expires_at": self.expires_at.isoformat(),
                "scopes": list(self.scopes)}


def split_token(token: str) -> tuple[str, str] | None:
    """``gch_<id>_<secret>`` -> (id, secret); None when the shape is wrong."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]
