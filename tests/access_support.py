"""A hub ready for access applications: the handcrafted lake of ``tests/criteria_support.py`` (21 people
deposited, published, linked, the catalogue's dictionary loaded — criteria are validated against both at
submission), accounts of every role in distinct organisations plus some in the applicant's organisation,
and the two panels. The lake is built once per test process and copied for each hub (``hub_with_lake``)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from guichet.access import services as access
from guichet.accounts import services as accounts
from guichet.accounts.auth import actor_for
from guichet.actor import Actor, system_actor
from guichet.hub import Hub

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "application.json"
APPLICANT_ORG = "Université de test"

# username -> (role, organisation, kind); the *.same accounts belong to the applicant's organisation.
ACCOUNTS: dict[str, tuple[str, str, str]] = {
    "alice": ("researcher", APPLICANT_ORG, "academic"),
    "bob": ("researcher", "Pharma test", "industry"),
    "claire": ("committee", "Scientific committee", "public_body"),
    "marc": ("committee", "Scientific committee", "public_body"),
    "paul": ("committee", "Patients association", "public_body"),
    "arthur": ("authority", "Data protection authority", "public_body"),
    "victor": ("auditor", "Audit office", "public_body"),
    "olga": ("checker", "Output checking", "hub"),
    "cnam": ("producer", "Assurance Maladie", "producer"),
    "op.same": ("operator", APPLICANT_ORG, "academic"),
    "nina.same": ("committee", APPLICANT_ORG, "academic"),
    "auth.same": ("authority", APPLICANT_ORG, "academic"),
}
PANEL_MEMBERS = {"scientific": ("claire", "marc", "nina.same"), "citizens": ("paul",)}


def example() -> dict[str, Any]:
    content: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return content



_TEMPLATE: list[Path] = []


def hub_with_lake(root: Path) -> Hub:
    """A development hub in ``root`` holding the handcrafted lake: built once per process, then copied (the
    hub's settings name its own folders: they are rewritten to the copy's)."""
    from guichet.hub import open_hub
    from tests.conftest import make_hub
    from tests.criteria_support import build_lake

    if not _TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="guichet-access-lake-"))
        hub = make_hub(template)
        build_lake(hub, template)
        hub.close()
        _TEMPLATE.append(template)
    template = _TEMPLATE[0]
    for part in ("hub", "custodian"):
        shutil.copytree(template / part, root / part, symlinks=True)
    settings = root / "hub" / "guichet.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(str(template), str(root)), encoding="utf-8")
    return open_hub(root / "hub")


def prepare(hub: Hub, root: Path) -> dict[str, Actor]:
    """Accounts and panels (the hub comes from ``hub_with_lake``, catalogue included); returns the actors by
    username (``operator`` included)."""
    system = system_actor()
    for username, (role, org, kind) in ACCOUNTS.items():
        accounts.add_user(hub, system, username=username, roles=[role], org=org, org_kind=kind)
    actors = {u: actor_for(hub, u).with_strong_auth() for u in [*ACCOUNTS, hub.config.operator]}
    for panel, members in PANEL_MEMBERS.items():
        for m in members:
            access.add_member(hub, actors["operator"], panel=panel, username=m)
    return actors


class CliCalls:
    """``run`` and ``ok`` of the access path's CLI desks: a command on the hub at ``self.home`` with ``--json``,
    as an account (``--as``) when given; ``ok`` asserts exit 0 and answers the parsed JSON."""

    home: Path

    def run(self, *args: str, who: str | None = None) -> Any:
        from tests.conftest import run_cli

        argv = [*args, "--home", str(self.home), "--json"]
        if who:
            argv += ["--as", who]
        return run_cli(argv)

    def ok(self, *args: str, who: str | None = None) -> Any:
        r = self.run(*args, who=who)
        assert r.code == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else None
