"""A running hub: its configuration and its open metadata store, handed to every service."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from guichet.config import HubConfig, effective_db_url, load_config, read_private_file, write_private_file
from guichet.errors import BadInput
from guichet.store.db import Store, open_store

SECRET_FILE = "hub.key"  # noqa: S105 - a file name


@dataclass
class Hub:
    config: HubConfig
    store: Store

    @property
    def home(self) -> Path:
        return self.config.home

    @property
    def audit_dir(self) -> Path:
        return self.config.folder("audit")

    @property
    def development(self) -> bool:
        return self.config.mode == "development"

    def secret_key(self) -> bytes:
        """The hub's own secret (sessions, TOTP secrets at rest). Not a data key: those are the custodian's."""
        return base64.urlsafe_b64decode(read_private_file(self.config.folder("secrets") / SECRET_FILE, "hub secret"))

    def seal(self, value: str) -> str:
        return Fernet(base64.urlsafe_b64encode(self.secret_key())).encrypt(value.encode()).decode()

    def unseal(self, token: str) -> str:
        try:
            return Fernet(base64.urlsafe_b64encode(self.secret_key())).decrypt(token.encode()).decode()
        except InvalidToken:
            raise BadInput("a sealed value could not be opened with this hub's secret") from None

    def close(self) -> None:
        self.store.dispose()


def create_secret(config: HubConfig) -> None:
    path = config.folder("secrets") / SECRET_FILE
    if not path.exists():
        write_private_file(path, base64.urlsafe_b64encode(os.urandom(32)).decode())


def open_hub(home: Path, env_db_url: str | None = None, *, migrate: bool = False) -> Hub:
    config = load_config(home)
    store = open_store(effective_db_url(config, env_db_url), migrate=migrate)
    return Hub(config=config, store=store)
