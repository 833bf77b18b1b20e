"""The hub's configuration: read once by the CLI or the app factory and passed into services.

Nothing below this module reads the environment. The database password never lives in the config file
or in argv: it comes from ``GUICHET_DB_URL`` or from a 0600 password file named in the config.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import tomli_w
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from guichet.errors import BadInput

CONFIG_FILE = "guichet.toml"
HUB_FOLDERS = ("lake", "quarantine", "workspaces", "outputs", "audit", "logs", "secrets")
Mode = Literal["development", "production"]
MODES: tuple[Mode, ...] = ("development", "production")


@dataclass(frozen=True)
class HubConfig:
    """Everything a service needs to know about the hub it runs in."""

    home: Path
    custodian_home: Path
    mode: Mode
    db_url: str  # without password
    db_password_file: Path | None = None
    operator: str = "operator"
    allow_clear_identifiers: bool = False
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE

    def folder(self, name: str) -> Path:
        if name not in HUB_FOLDERS:
            raise ValueError(f"unknown hub folder {name!r}")
        return self.home / name

    def with_properties(self, **props: Any) -> HubConfig:
        return replace(self, properties={**self.properties, **props})

    def to_toml(self) -> dict[str, Any]:
        hub: dict[str, Any] = {
            "mode": self.mode,
            "custodian_home": str(self.custodian_home),
            "operator": self.operator,
            "allow_clear_identifiers": self.allow_clear_identifiers,
        }
        db: dict[str, Any] = {"url": self.db_url}
        if self.db_password_file is not None:
            db["password_file"] = str(self.db_password_file)
        return {"hub": hub, "database": db, "properties": dict(self.properties)}


def default_sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'guichet.db'}"


def url_has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError as exc:
        raise BadInput(f"--db: not a database URL ({exc.__class__.__name__})") from None


def strip_password(url: str) -> str:
    """The URL without its password, as stored in the config file."""
    return make_url(url).set(password=None).render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret file that others could read (it must be 0600 or stricter)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise BadInput(f"{what} {path}: cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInput(f"{what} {path}: must be readable by its owner only (chmod 600)")


def read_private_file(path: Path, what: str) -> str:
    check_private_file(path, what)
    return path.read_text(encoding="utf-8").strip()


def write_private_file(path: Path, content: str | bytes) -> None:
    """Write a file created 0600 from the start (never world-readable, not even briefly)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def effective_db_url(config: HubConfig, env_db_url: str | None) -> str:
    """The URL the store connects with: GUICHET_DB_URL wins, else the config URL plus its password file."""
    if env_db_url:
        return env_db_url
    if config.db_password_file is None:
        return config.db_url
    password = read_private_file(config.db_password_file, "database password file")
    return make_url(config.db_url).set(password=password).render_as_string(hide_password=False)


def load_config(home: Path) -> HubConfig:
    path = home / CONFIG_FILE
    if not path.is_file():
        raise BadInput(f"{home}: not a Guichet hub (no {CONFIG_FILE}); run 'guichet init --home {home}' first")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid TOML ({exc})") from None
    hub = raw.get("hub", {})
    db = raw.get("database", {})
    mode = hub.get("mode")
    if mode not in MODES:
        raise BadInput(f"{path}: hub.mode must be one of {', '.join(MODES)}")
    if "url" not in db or "custodian_home" not in hub:
        raise BadInput(f"{path}: database.url and hub.custodian_home are required")
    pw = db.get("password_file")
    return HubConfig(
        home=home,
        custodian_home=Path(hub["custodian_home"]),
        mode=mode,
        db_url=db["url"],
        db_password_file=Path(pw) if pw else None,
        operator=hub.get("operator", "operator"),
        allow_clear_identifiers=bool(hub.get("allow_clear_identifiers", False)),
        properties=dict(raw.get("properties", {})),
    )


def save_config(config: HubConfig) -> None:
    tmp = config.config_path.with_suffix(".toml.tmp")
    write_private_file(tmp, tomli_w.dumps(config.to_toml()))
    os.replace(tmp, config.config_path)


PRIVATE_UMASK = 0o077  # every file and folder the hub makes: readable by the hub's own OS user only


def private_files() -> int:
    """From now on, files and folders this process creates are 0600/0700 (the CLI and the server call it
    first: the metadata database, the audit mirror, the lake's and quarantine's files carry the hub's data).
    Answers the previous umask."""
    return os.umask(PRIVATE_UMASK)


def resolve_home(option: str | None, env_home: str | None) -> Path:
    """``--home`` wins, then ``GUICHET_HOME``; there is no silent default."""
    value = option or env_home
    if not value:
        raise BadInput("no hub home: pass --home DIR or set GUICHET_HOME")
    return Path(value).expanduser().absolute()


def is_inside(child: Path, parent: Path) -> bool:
    child_r, parent_r = child.resolve(), parent.resolve()
    return child_r == parent_r or parent_r in child_r.parents
