"""docs/permissions.md and the code's permission table must say exactly the same thing."""

from __future__ import annotations

import re
from pathlib import Path

from guichet.governance.permissions import ACTIONS, PSEUDO_ROLES, ROLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def _doc_actions() -> dict[str, tuple[frozenset[str], str, tuple[str, ...]]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`([a-z_]+\.[a-z_]+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|", line)
        if m:
            name, roles, kind, sod = m.groups()
            role_set = frozenset(r.strip() for r in roles.split(",") if r.strip())
            sod_t = tuple(s.strip() for s in sod.split(",") if s.strip() and s.strip() != "—")
            assert name not in rows, f"{name} listed twice in docs/permissions.md"
            rows[name] = (role_set, kind.strip(), sod_t)
    return rows


def test_every_action_of_the_code_is_documented_identically() -> None:
    doc = _doc_actions()
    for name, spec in ACTIONS.items():
        assert name in doc, f"action {name} is not in docs/permissions.md"
        roles, kind, sod = doc[name]
        assert roles == spec.roles, f"{name}: roles differ (doc {sorted(roles)}, code {sorted(spec.roles)})"
        assert kind == spec.kind, f"{name}: kind differs (doc {kind}, code {spec.kind})"
        assert sod == spec.sod, f"{name}: separation of duty differs (doc {sod}, code {spec.sod})"


def test_the_doc_lists_no_action_the_code_lacks() -> None:
    extra = set(_doc_actions()) - set(ACTIONS)
    assert not extra, f"docs/permissions.md lists actions the code does not have: {sorted(extra)}"


def test_only_known_roles_are_used() -> None:
    known = set(ROLES) | set(PSEUDO_ROLES)
    for spec in ACTIONS.values():
        assert spec.roles <= known, f"{spec.name}: unknown role(s) {sorted(spec.roles - known)}"
        assert spec.roles, f"{spec.name}: no role may perform it"


def test_every_role_is_described() -> None:
    text = DOC.read_text(encoding="utf-8")
    for role in ROLES:
        assert f"| `{role}` |" in text, f"role {role} is not described in docs/permissions.md"
