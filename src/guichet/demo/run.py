"""The demo's runner and its first stages (hub and accounts)."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from guichet.accounts import services as accounts
from guichet.actor import Actor, system_actor
from guichet.config import write_private_file
from guichet.errors import BadInput
from guichet.hub import Hub, open_hub
from guichet.lifecycle.init import InitRequest, default_custodian_home, init_hub
from guichet.store.models import AuditEvent, Organisation, User

DEMO_VERSION = 1
DEFAULT_PERSONS = 5000
DEMO_SEED = 20240101
CREDENTIALS_FILE = "demo-credentials.txt"
ANSWER_FILE = "demo.json"  # the demo's answer, as `guichet demo --json` prints it

# One account for each role, with its organisation and the organisation's kind; the operator is the one
# init creates.
DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("producer", "cnam.producer", "Assurance Maladie (synthetic producer)", "producer"),
    ("researcher", "alice.researcher", "Université de Lyon (demo)", "academic"),
    ("committee", "claire.committee", "Scientific committee (demo)", "public_body"),
    ("authority", "arthur.authority", "Data protection authority (demo)", "public_body"),
    ("checker", "olga.checker", "Hub output checking", "hub"),
    ("auditor", "victor.auditor", "Audit office (demo)", "public_body"),
)


@dataclass(frozen=True)
class DemoRequest:
    home: Path
    persons: int = DEFAULT_PERSONS
    env_db_url: str | None = None


@dataclass
class DemoRun:
    """What stages share: the request, the open hub, the accounts made, the counts so far."""

    request: DemoRequest
    hub: Hub
    operator: Actor
    accounts: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. "delivery", "application", "permit"


@dataclass
class DemoResult:
    home: Path
    custodian_home: Path
    stages: dict[str, dict[str, Any]]
    counts: dict[str, int]
    accounts: dict[str, str]
    extra: dict[str, Any]
    lines: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"version": DEMO_VERSION, "home": str(self.home), "custodian_home": str(self.custodian_home),
                "stages": self.stages, "counts": self.counts, "accounts": self.accounts, **self.extra}


Stage = Callable[[DemoRun], tuple[dict[str, Any], list[str]]]
STAGES: list[tuple[str, Stage]] = []


def demo_stage(name: str) -> Callable[[Stage], Stage]:
    """Register a stage: it returns (its JSON part, the lines it prints for people)."""

    def register(fn: Stage) -> Stage:
        STAGES.append((name, fn))
        return fn

    return register


def _refuse_non_empty(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BadInput(f"{what} {path}: not empty; the demo builds a hub in a new folder")


@demo_stage("accounts")
def _accounts(run: DemoRun) -> tuple[dict[str, Any], list[str]]:
    hub, lines = run.hub, []
    creds = ["# Guichet demo credentials (synthetic accounts; development mode only)",
             "# username\trole\tpassword\ttotp_secret"]
    system = system_actor()
    run.accounts["operator"] = hub.config.operator
    for role, username, org, kind in DEMO_ACCOUNTS:
        accounts.add_user(hub, run.operator, username=username, roles=[role], org=org, org_kind=kind)
        run.accounts[role] = username
    for role, username in run.accounts.items():
        password = secrets.token_urlsafe(12)
        accounts.set_password(hub, system, username=username, password=password)
        totp = accounts.enroll_totp(hub, system, username=username)
        creds.append(f"{username}\t{role}\t{password}\t{totp}")
    write_private_file(hub.home / CREDENTIALS_FILE, "\n".join(creds) + "\n")
    lines.append(f"accounts   one per role: {', '.join(f'{r}={u}' for r, u in run.accounts.items())}")
    lines.append(f"           passwords and TOTP secrets in {CREDENTIALS_FILE} (0600)")
    return {"accounts": len(run.accounts)}, lines


def _counts(hub: Hub) -> dict[str, int]:
    with hub.store.read() as s:
        return {
            "accounts": s.execute(select(func.count()).select_from(User)).scalar_one(),
            "organisations": s.execute(select(func.count()).select_from(Organisation)).scalar_one(),
            "audit_events": s.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        }


COUNTERS: list[Callable[[Hub], dict[str, int]]] = [_counts]

# The modules that register the later stages, in data-flow order. Each issue adds its module here.
STAGE_MODULES: tuple[str, ...] = (
    "guichet.demo.delivery",  # synthetic delivery (Synthetic SNDS issue)
    "guichet.demo.deposit",  # pseudonymise as producer + deposit (Custodian / Deposit issues)
    "guichet.demo.quality",  # quality checks, gating and override (Quality issue)
    "guichet.demo.linkage",  # person index, death certificates (Linkage issue)
    "guichet.demo.catalogue",  # catalogue properties + SNDS dictionary, HealthDCAT-AP (Catalogue issue)
    "guichet.demo.access",  # the sample application to authorisation (Access applications issue)
    "guichet.demo.permit",  # the sample permit of the authorised application (Permits issue)
    "guichet.demo.workspace",  # the sample permit's extract (Workspace extracts issue)
    "guichet.demo.session",  # one query in the sample workspace's sandbox (Workspace sessions issue)
    "guichet.demo.airlock",  # a result submitted, reviewed blind by two checkers and released (Airlock releases issue)
    "guichet.demo.stats",  # a statistics request answered, checked and released (Statistics requests issue)
    "guichet.demo.pathway",  # the pilot's care pathway and its attrition table submitted (Analysis issue)
    "guichet.demo.transparency",  # the activity report of the year (Transparency issue)
)


def _load_stages() -> None:
    from importlib import import_module

    for module in STAGE_MODULES:
        import_module(module)


def run_demo(req: DemoRequest, on_stage: Callable[[str], None] | None = None) -> DemoResult:
    if req.persons < 1:
        raise BadInput("--persons: at least 1")
    _load_stages()
    home = req.home.absolute()
    custodian_home = default_custodian_home(home)
    _refuse_non_empty(home, "--home")
    _refuse_non_empty(custodian_home, "custodian home")
    created_home, created_cust = not home.exists(), not custodian_home.exists()
    try:
        init = init_hub(InitRequest(home=home, custodian_home=custodian_home, mode="development",
                                    env_db_url=req.env_db_url))
        hub = open_hub(home, req.env_db_url)
    except BaseException:
        if created_home:
            shutil.rmtree(home, ignore_errors=True)
        if created_cust:
            shutil.rmtree(custodian_home, ignore_errors=True)
        raise
    try:
        from guichet.accounts.auth import actor_for

        operator = actor_for(hub, init.operator, os_user=system_actor().os_user).with_strong_auth()
        run = DemoRun(req, hub, operator)
        stages: dict[str, dict[str, Any]] = {"init": {"mode": init.mode}}
        lines = [f"init       hub {req.home} in development mode (custodian home {custodian_home.name})"]
        for name, stage in STAGES:
            if on_stage:
                on_stage(name)
            part, stage_lines = stage(run)
            stages[name] = part
            lines.extend(stage_lines)
        counts: dict[str, int] = {}
        for counter in COUNTERS:
            counts.update(counter(hub))
        result = DemoResult(home, custodian_home, stages, counts, dict(run.accounts), run.extra, lines)
        # the answer `--json` prints, kept with the hub (no secret in it: the credentials are in their own file)
        (home / ANSWER_FILE).write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n",
                                        encoding="utf-8")
        return result
    finally:
        hub.close()
