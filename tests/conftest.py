"""Shared fixtures. Each test folder is a tier (see scripts/test_tiers.py); a test is marked by its folder."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2.profiles import CHEAPEST

import guichet.accounts.auth

# Passwords hash with argon2's cheapest parameters in the tests (its profile "for tests"): the default costs
# 0.1-0.7 s per hash and per check, and the web tests set and check hundreds of passwords. A hash names its
# parameters, so what the tests check (right and wrong passwords, rehash, lock-out) is unchanged; a served hub
# (`guichet serve` in the browser tier) still hashes with the defaults. Set before any module hashes one.
PRODUCTION_PASSWORD_PARAMETERS = guichet.accounts.auth.password_hasher._parameters
guichet.accounts.auth.password_hasher._parameters = CHEAPEST

import guichet.catalogue  # noqa: E402
import guichet.lifecycle.init  # noqa: E402
import guichet.schema  # noqa: E402
from guichet.hub import Hub, open_hub  # noqa: E402
from guichet.lifecycle.init import InitRequest, init_hub  # noqa: E402
from guichet.store.db import Store  # noqa: E402


class TemplateStore(Store):
    """The store ``init_hub`` creates in the tests: a new database gets its schema copied from one migrated
    once, instead of running every Alembic migration again for each test's hub. On SQLite the schema is
    copied from a database migrated once per process (SQLite's backup API); on PostgreSQL the test's empty
    database (``pg_url``) is created again from a template database migrated once per version of the
    migrations (``CREATE DATABASE … TEMPLATE``, see ``pg_template``). A database that already has a schema
    migrates for real; so do hubs created by a ``guichet`` subprocess, and the store tier's migration tests
    (they use ``Store`` itself). tests/store/test_schema_template.py checks that both copies equal a migrated
    database. GUICHET_TEST_MIGRATE=1 turns the copies off."""

    template: Path | None = None

    def upgrade(self) -> None:
        if os.environ.get("GUICHET_TEST_MIGRATE") == "1" or self._has_schema():
            super().upgrade()
            return
        if not self.is_sqlite:
            self._recreate_from_pg_template()
            return
        import sqlite3

        source = sqlite3.connect(str(migrated_template()))
        try:
            with self.write_engine.connect() as conn:
                source.backup(conn.connection.driver_connection)  # type: ignore[arg-type]
        finally:
            source.close()

    def _has_schema(self) -> bool:
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            return bool(inspect(conn).get_table_names())

    def _recreate_from_pg_template(self) -> None:
        """Drop this (empty) test database and create it again as a copy of the migrated template."""
        from sqlalchemy.engine import make_url

        name = make_url(self.url).database or ""
        if not name.startswith(PG_TEST_PREFIX):  # only the tests' own databases are dropped and created again
            super().upgrade()
            return
        template = pg_template()
        self.engine.dispose()  # also the write engine: one on PostgreSQL
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def migrated_template() -> Path:
    """A SQLite database migrated to the latest revision by Alembic, built once per process."""
    if TemplateStore.template is None:
        import atexit
        import shutil
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="guichet-schema-"))
        atexit.register(shutil.rmtree, folder, True)
        store = Store(f"sqlite:///{folder / 'template.db'}")
        try:
            store.upgrade()
        finally:
            store.dispose()
        TemplateStore.template = folder / "template.db"
    return TemplateStore.template


guichet.lifecycle.init.Store = TemplateStore  # type: ignore[misc]

PG_ADMIN_URL = os.environ.get("GUICHET_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_TEST_PREFIX = "guichet_test_"  # the tests' databases (pg_url), dropped after each test
PG_TEMPLATE_PREFIX = "guichet_template_"


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def pg_template() -> str:
    """The name of a PostgreSQL database migrated to the latest revision by Alembic, for the tests' databases
    to be created from. It is named after a digest of the migration scripts, so that a changed or added
    migration gets a new one; built once on a server (under an advisory lock, so that parallel test processes
    build it once) and kept for the next runs; a half-built one is never used (it is built under another name
    and renamed when complete)."""
    import hashlib

    from guichet.store.db import MIGRATIONS

    digest = hashlib.sha256()
    for script in sorted(Path(MIGRATIONS).rglob("*.py")):
        digest.update(script.relative_to(MIGRATIONS).as_posix().encode() + b"\0" + script.read_bytes())
    name = PG_TEMPLATE_PREFIX + digest.hexdigest()[:16]
    building = name + "_building"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with _pg_admin() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{building}"')
                store = Store(f"{base}/{building}")
                try:
                    store.upgrade()
                finally:
                    store.dispose()
                conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
                _drop_old_templates(conn, keep=name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return name

def _drop_old_templates(conn: Any, keep: str) -> None:
    """Drop the templates of other versions of the migrations (one was left on the server for every version a
    run had tested), except those in use: a template is dropped without FORCE, so that a run of another
    checkout creating its databases from it is not disturbed (its template is then dropped another time)."""
    import psycopg

    names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                                        (PG_TEMPLATE_PREFIX.replace("_", r"\_") + "%", keep)).fetchall()]
    for old in names:
        if old.endswith("_building"):
            continue  # another run's template being built: its own run renames or drops it
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{old}"')
        except psycopg.Error:
            pass  # in use right now


REPO = Path(__file__).resolve().parent.parent
# Reference data travel with the repository (tests/data, each part with its origin and licence) or are the
# copies the package ships: a clone tests itself with nothing beside it.
TEST_DATA = REPO / "tests" / "data"
SYNTHETIC_SNDS = TEST_DATA / "snds" / "synthetic-snds" / "schemas"  # indsante/synthetic-snds, Etalab 2.0
DRUG_CODES = TEST_DATA / "snds" / "IR_PHA_R_codes.csv.gz"  # SCALPEL-Extraction's IR_PHA_R, BSD-3
NOMENCLATURES = Path(guichet.schema.__file__).parent / "nomenclatures"  # schema-snds ORAVAL, as shipped
SNDS_SCHEMAS = Path(guichet.catalogue.__file__).parent / "snds" / "schemas"  # schema-snds, as shipped


def drug_reference() -> dict[str, dict[str, str]]:
    """The real drug reference (CIP13 → CIP7, ATC7) the synthetic drugs must be rows of."""
    import csv
    import gzip

    with gzip.open(DRUG_CODES, "rt", encoding="utf-8", newline="") as f:
        return {r["PHA_CIP_C13"]: r for r in csv.DictReader(f, delimiter=";")}


TIERS = ("unit", "spec", "property", "store", "integration", "e2e", "security", "spark")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
    order = os.environ.get("GUICHET_TEST_ORDER")
    if order:
        _modules_in_order(items, Path(order))


def _modules_in_order(items: list[pytest.Item], order: Path) -> None:
    """Sort the modules as listed in ``order`` (scripts/test_tiers.py writes it, slowest module first), keeping
    each module's tests in their order; a module not listed goes last. pytest-xdist's ``--dist loadfile``
    (with ``--no-loadscope-reorder``) hands the modules to the processes in this order."""
    rank = {line: i for i, line in enumerate(order.read_text(encoding="utf-8").split())}
    position = {id(item): i for i, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int]:
        module = Path(str(item.fspath)).relative_to(REPO).as_posix()
        return rank.get(module, len(rank)), position[id(item)]

    items.sort(key=key)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], env: dict[str, str] | None = None) -> CliResult:
    """Run the command in-process (fast), with its real exit code and separate stdout / stderr."""
    import contextlib
    import io

    from guichet.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in ("GUICHET_HOME", "GUICHET_TOKEN", "GUICHET_DB_URL", *(env or {}))}
    for k in ("GUICHET_HOME", "GUICHET_TOKEN", "GUICHET_DB_URL"):
        os.environ.pop(k, None)
    os.environ.update(env or {})
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                    timeout: float = 600) -> CliResult:
    """Run ``guichet`` as a real subprocess (integration tier)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "guichet", *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> type[CliResult]:
    return CliResult


def make_hub(root: Path, mode: str = "development", db_url: str | None = None) -> Hub:
    home = root / "hub"
    init_hub(InitRequest(home=home, custodian_home=root / "custodian", mode=mode,  # type: ignore[arg-type]
                         env_db_url=db_url))
    return open_hub(home, db_url)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A fresh development-mode hub on SQLite."""
    h = make_hub(tmp_path)
    yield h
    h.close()


def _pg_available() -> bool:
    try:
        import psycopg

        url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not pg_available:
        if os.environ.get("GUICHET_REQUIRE_ALL") == "1":
            pytest.fail(f"PostgreSQL is required (GUICHET_REQUIRE_ALL=1) but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name = f"{PG_TEST_PREFIX}{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    """A fresh hub on each metadata store (the store tier runs every test on both)."""
    db_url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    h = make_hub(tmp_path, db_url=db_url)
    yield h
    h.close()


def test_producer(hub: Hub, name: str = "cnam", org: str = "Assurance Maladie") -> str:
    """A registered producer to deposit for (every dataset belongs to one); registered once per hub."""
    from sqlalchemy import select

    from guichet.actor import system_actor
    from guichet.deposit import services as deposits
    from guichet.lake.tables import Producer

    with hub.store.read() as s:
        if s.execute(select(Producer.id).where(Producer.name == name)).first() is None:
            deposits.add_producer(hub, system_actor(), name=name, org=org)
    return name


test_producer.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test
