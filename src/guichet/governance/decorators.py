"""The one path every state change takes: check the actor's permission, act, write an audit event.

A state-changing service is a function decorated with ``@service("action.name")``. Its caller passes
``(hub, actor, **kwargs)``; the function receives a ``Unit`` (the hub, the actor, a write session and the
audit note it fills in). The decorator refuses before anything runs when ``authorize`` says no (and audits
the refusal), and writes the audit event in the same transaction as the change, so one is never without
the other. Read-only services use ``@query``: their session refuses to write.

``SERVICES`` lists every decorated function; ``tests/unit/test_governance.py`` enumerates it and fails if a
service skips the permission check or the audit event, or if a module defines an undecorated public
function in a ``services`` module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.audit.log import append_event
from guichet.audit.mirror import complete_mirror
from guichet.errors import GuichetError, Refused
from guichet.governance.permissions import ACTIONS, Decision, Resource, authorize
from guichet.hub import Hub

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Unit:
    """What a service works with: the hub, the actor, an open session, and the audit note to fill."""

    hub: Hub
    actor: Actor
    session: Session  # for services declared with transactional=False this is a read-only session
    action: str
    object: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def note(self, obj: str | None = None, reason: str | None = None, **details: Any) -> None:
        """Say what the audit event should record (never an identifier's value)."""
        if obj is not None:
            self.object = obj
        if reason is not None:
            self.reason = reason
        self.details.update(details)


ResourceFn = Callable[..., Resource | None]
SERVICES: dict[str, Callable[..., Any]] = {}


def _refuse(hub: Hub, actor: Actor, action: str, resource: Resource | None, decision: Decision) -> Refused:
    with hub.store.write() as session:
        append_event(session, actor, action, obj=resource.label if resource else None, outcome="denied",
                     details={"rule": decision.reason})
    complete_mirror(hub.store, hub.audit_dir)
    return Refused(decision.reason)


def _check(hub: Hub, actor: Actor, action: str, resource: ResourceFn | None, kwargs: dict[str, Any]) -> Resource | None:
    """Authorize, refusing (and auditing the refusal) before anything runs.

    An actor holding none of the action's roles is refused before the resource is even looked up, so
    that a refusal never tells whether a resource exists."""
    spec = ACTIONS[action]
    if not (actor.roles & spec.roles) and not ({"self", "public"} & spec.roles):
        raise _refuse(hub, actor, action, None, authorize(actor, action, None))
    res = _resolve_resource(resource, hub, kwargs)
    decision = authorize(actor, action, res)
    if not decision:
        raise _refuse(hub, actor, action, res, decision)
    return res


def _resolve_resource(resource: ResourceFn | None, hub: Hub, kwargs: dict[str, Any]) -> Resource | None:
    if resource is None:
        return None
    with hub.store.read() as session:
        return resource(session, **kwargs)


def service(action: str, *, resource: ResourceFn | None = None, transactional: bool = True) -> Callable[
    [Callable[Concatenate[Unit, P], R]], Callable[Concatenate[Hub, Actor, P], R]
]:
    """Declare a state-changing service for ``action`` (which must be in the permission table).

    ``transactional=False`` is for services whose work spans files and several commits of their own
    (doctor, deposits): they get a read-only session and open write transactions themselves; the audit
    event is then written in its own transaction once the work succeeded (or failed).
    """
    spec = ACTIONS[action]  # an action missing from the table fails at import, loudly
    if spec.kind not in ("change", "decision"):
        raise RuntimeError(f"@service({action!r}): a {spec.kind} action is a @query")

    def decorate(fn: Callable[Concatenate[Unit, P], R]) -> Callable[Concatenate[Hub, Actor, P], R]:
        @functools.wraps(fn)
        def run(hub: Hub, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            res = _check(hub, actor, action, resource, dict(kwargs))
            try:
                if transactional:
                    with hub.store.write() as session:
                        unit = Unit(hub, actor, session, action, object=res.label if res else None)
                        result = fn(unit, *args, **kwargs)
                        append_event(session, actor, action, obj=unit.object, reason=unit.reason,
                                     details=unit.details)
                else:
                    with hub.store.read() as session:
                        unit = Unit(hub, actor, session, action, object=res.label if res else None)
                        result = fn(unit, *args, **kwargs)
                    with hub.store.write() as session:
                        append_event(session, actor, action, obj=unit.object, reason=unit.reason,
                                     details=unit.details)
            except GuichetError as exc:
                with hub.store.write() as session:
                    append_event(session, actor, action, obj=res.label if res else None, outcome="failed",
                                 details={"error": type(exc).__name__})
                complete_mirror(hub.store, hub.audit_dir)
                raise
            complete_mirror(hub.store, hub.audit_dir)
            return result

        return _register(action, "service", run)

    return decorate


def _register(action: str, kind: str, fn: F) -> F:
    """Mark ``fn`` as the declared service of ``action`` (the governance test looks for the mark)."""
    if action in SERVICES and SERVICES[action].__qualname__ != fn.__qualname__:
        raise RuntimeError(f"two services for action {action!r}: {SERVICES[action].__qualname__} and {fn.__qualname__}")
    fn.__guichet_action__ = action  # type: ignore[attr-defined]
    fn.__guichet_kind__ = kind  # type: ignore[attr-defined]
    SERVICES[action] = fn
    return fn


def query(action: str, *, resource: ResourceFn | None = None) -> Callable[
    [Callable[Concatenate[Unit, P], R]], Callable[Concatenate[Hub, Actor, P], R]
]:
    """Declare a read-only service. Reads of personal data (kind ``read_personal``) are audited."""
    spec = ACTIONS[action]
    if spec.kind not in ("read", "read_personal"):
        raise RuntimeError(f"@query({action!r}): a {spec.kind} action is a @service")

    def decorate(fn: Callable[Concatenate[Unit, P], R]) -> Callable[Concatenate[Hub, Actor, P], R]:
        @functools.wraps(fn)
        def run(hub: Hub, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            res = _check(hub, actor, action, resource, dict(kwargs))
            with hub.store.read() as session:
                unit = Unit(hub, actor, session, action, object=res.label if res else None)
                result = fn(unit, *args, **kwargs)
            if spec.kind == "read_personal":
                with hub.store.write() as session:
                    append_event(session, actor, action, obj=unit.object, details=unit.details)
                complete_mirror(hub.store, hub.audit_dir)
            return result

        return _register(action, "query", run)

    return decorate
