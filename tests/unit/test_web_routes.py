"""Every route declares its permission; public routes are exactly the documented ones."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from guichet.governance import ACTIONS
from guichet.hub import Hub
from guichet.web import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _documented_public_routes() -> set[str]:
    text = (DOCS / "permissions.md").read_text(encoding="utf-8")
    section = text.split("## Public routes", 1)[1]
    return set(re.findall(r"^\| `(/[^`]*)` \|", section, flags=re.M))


def _permission_of(route: APIRoute) -> str | None:
    guards = [d.call for d in route.dependant.dependencies if hasattr(d.call, "__guichet_permission__")]
    if len(guards) != 1:
        return None
    return guards[0].__guichet_permission__  # type: ignore[union-attr]


def test_every_route_declares_a_known_permission_and_public_ones_are_documented(hub: Hub) -> None:
    app = create_app(hub.config)
    public_doc = _documented_public_routes()
    problems, public_seen = [], set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            permission = _permission_of(route)
            declared = (route.openapi_extra or {}).get("x-permission")
            if permission is None:
                problems.append(f"{route.path}: no guard")
            elif permission != declared:
                problems.append(f"{route.path}: guard {permission} but x-permission {declared}")
            elif permission != "public" and permission not in ACTIONS:
                problems.append(f"{route.path}: {permission} is not in the permission table")
            if permission == "public":
                public_seen.add(route.path)
        elif isinstance(route, Mount | Route):
            public_seen.add(route.path)  # the static files and FastAPI's own OpenAPI route: no guard
        else:
            problems.append(f"{route!r}: unknown kind of route")
    undocumented = sorted(public_seen - public_doc)
    assert not problems, problems
    assert not undocumented, f"public routes missing from the 'Public routes' table: {undocumented}"
    stale = sorted(public_doc - public_seen)
    assert not stale, f"documented public routes that do not exist: {stale}"


def test_every_openapi_operation_carries_x_permission(hub: Hub) -> None:
    spec = create_app(hub.config).openapi()
    assert spec["paths"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            permission = op.get("x-permission")
            assert permission == "public" or permission in ACTIONS, (method, path, permission)


def test_a_route_cannot_be_declared_with_an_unknown_permission() -> None:
    import pytest

    from guichet.web.routing import GuardedRouter

    router = GuardedRouter()
    with pytest.raises(RuntimeError, match="not in the permission table"):
        router.page("/x", permission="no.such.action")(lambda: None)
    with pytest.raises(RuntimeError, match="only a public route"):
        router.page("/y", permission="user.list", authenticate=False)(lambda: None)
