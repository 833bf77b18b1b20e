"""``guichet init``: create a hub (config, folders, migrated database, first operator and its token).

Nothing is half-made: every folder and file created is removed again if a later step fails, and a fresh
database that was migrated is emptied again. Running init on an existing hub changes nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text

from guichet.accounts import services as accounts
from guichet.actor import system_actor
from guichet.config import (
    HUB_FOLDERS,
    HubConfig,
    Mode,
    default_sqlite_url,
    effective_db_url,
    is_inside,
    load_config,
    save_config,
    strip_password,
    write_private_file,
)
from guichet.custodian import init_custodian_home
from guichet.errors import BadInput, Conflict
from guichet.hub import Hub, create_secret
from guichet.lifecycle.services import record_init
from guichet.store.db import Store

TOKEN_FILE = "operator.token"  # noqa: S105 - a file name
OPERATOR_ORG = "Hub operator"


@dataclass(frozen=True)
class InitRequest:
    home: Path
    custodian_home: Path | None = None
    db_url: str | None = None  # without password
    db_password_file: Path | None = None
    env_db_url: str | None = None  # GUICHET_DB_URL, may carry a password
    mode: Mode | None = None
    operator: str | None = None


@dataclass(frozen=True)
class InitResult:
    home: Path
    custodian_home: Path
    mode: str
    created: bool
    operator: str
    token_file: Path

    def to_dict(self) -> dict[str, str]:
        return {"home": str(self.home), "custodian_home": str(self.custodian_home), "mode": self.mode}


def default_custodian_home(home: Path) -> Path:
    return home.parent / f"{home.name}-custodian"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(path: Path, what: str) -> None:
    if path.exists() and not path.is_dir():
        raise BadInput(f"{what} {path}: exists and is not a folder")
    base = _nearest_existing(path)
    if not os.access(base, os.W_OK | os.X_OK):
        raise BadInput(f"{what} {path}: {base} is not writable")


class _Undo:
    """Remembers what init created so that a failure removes exactly that."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.store: Store | None = None

    def mkdir(self, path: Path, mode: int = 0o700) -> None:
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for p in reversed(missing):
            p.mkdir(mode=mode)
            os.chmod(p, mode)
            self.paths.append(p)

    def undo(self) -> None:
        if self.store is not None:
            try:
                self.store.downgrade_to_empty()
                with self.store.write_engine.begin() as conn:
                    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
            except Exception:  # noqa: BLE001, S110 - best effort; the original error is what matters
                pass
            self.store.dispose()
        for p in reversed(self.paths):
            shutil.rmtree(p, ignore_errors=True)


def _existing(req: InitRequest) -> InitResult:
    cfg = load_config(req.home)
    asked = {
        "mode": req.mode,
        "custodian home": req.custodian_home and req.custodian_home.absolute(),
        "database": req.db_url,
        "operator": req.operator,
    }
    have = {"mode": cfg.mode, "custodian home": cfg.custodian_home, "database": cfg.db_url, "operator": cfg.operator}
    for key, value in asked.items():
        if value is not None and value != have[key]:
            raise Conflict(f"{req.home} is already a hub with another {key}; init changes nothing on an existing hub")
    store = Store(effective_db_url(cfg, req.env_db_url))
    try:
        store.check()
        store.upgrade()
    finally:
        store.dispose()
    for name in HUB_FOLDERS:
        cfg.folder(name).mkdir(exist_ok=True)
    return InitResult(cfg.home, cfg.custodian_home, cfg.mode, False, cfg.operator, cfg.home / TOKEN_FILE)


def init_hub(req: InitRequest) -> InitResult:
    home = req.home.absolute()
    if (home / "guichet.toml").exists():
        return _existing(req)
    custodian_home = (req.custodian_home or default_custodian_home(home)).absolute()
    if is_inside(custodian_home, home):
        raise BadInput(f"--custodian-home {custodian_home}: the custodian's keys may not live inside the hub home")
    if is_inside(home, custodian_home):
        raise BadInput(f"--home {home}: the hub home may not live inside the custodian home")
    if home.exists() and any(home.iterdir()):
        raise BadInput(f"--home {home}: folder is not empty and is not a hub")
    _check_writable(home, "--home")
    _check_writable(custodian_home, "--custodian-home")
    mode: Mode = req.mode or "production"
    operator = req.operator or "operator"
    db_url = req.db_url or (strip_password(req.env_db_url) if req.env_db_url else default_sqlite_url(home))
    cfg = HubConfig(home=home, custodian_home=custodian_home, mode=mode, db_url=db_url,
                    db_password_file=req.db_password_file, operator=operator)
    url = effective_db_url(cfg, req.env_db_url)

    undo = _Undo()
    try:
        if not url.startswith("sqlite"):
            probe = Store(url)
            try:
                probe.check()
                if inspect(probe.engine).has_table("audit_events"):
                    raise Conflict("the database already holds a hub; give init an empty database")
            finally:
                probe.dispose()
        undo.mkdir(home)
        for name in HUB_FOLDERS:
            undo.mkdir(home / name, 0o700)
        undo.mkdir(custodian_home, 0o700)
        init_custodian_home(custodian_home)
        create_secret(cfg)
        save_config(cfg)
        store = Store(url)
        undo.store = store
        store.check()
        store.upgrade()
        hub = Hub(config=cfg, store=store)
        system = system_actor()
        accounts.add_user(hub, system, username=operator, roles=["operator"], org=OPERATOR_ORG,
                          org_kind="hub")
        token = accounts.issue_token(hub, system, username=operator, label="created by guichet init")
        write_private_file(home / TOKEN_FILE, token.token + "\n")
        record_init(hub, system, mode=mode)
    except OSError as exc:
        undo.undo()
        where = exc.filename or home
        raise BadInput(f"--home {home}: cannot create {where} ({exc.strerror or type(exc).__name__})") from None
    except BaseException:
        undo.undo()
        raise
    store.dispose()
    return InitResult(home, custodian_home, mode, True, operator, home / TOKEN_FILE)

