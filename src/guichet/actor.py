"""The actor every service is called for: who, with which roles, through which channel and token.

A module with no Guichet import: the audit log records actors and governance checks them, and neither may
import the other to learn what an actor is."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace
from typing import Literal

Channel = Literal["cli", "web", "api", "system"]


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    org: str | None = None
    token_id: str | None = None
    os_user: str | None = None
    channel: Channel = "cli"
    strong_auth: bool = False  # second factor checked (or development mode on the CLI)

    def has(self, role: str) -> bool:
        return role in self.roles

    def with_strong_auth(self) -> Actor:
        return replace(self, strong_auth=True)


SYSTEM = Actor(username="system", roles=frozenset({"system"}), channel="system", strong_auth=True)


def system_actor() -> Actor:
    """The hub itself (init, demo set-up, start-up recovery), recorded with the OS user who ran it."""
    return replace(SYSTEM, os_user=os_user())
