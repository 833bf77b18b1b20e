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
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from guichet.actor import Actor
from guichet.audit.guard import looks_like_identifier
from guichet.audit.log import append_event, lock_head
from guichet.audit.mirror import complete_mirror
from guichet.errors import GuichetError, Hidden, Refused
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
    outcome: str = "ok"  # "refused" when the service answers a refusal without raising (a wrong password)
    # Checks a read of personal data must pass again at the moment its audit event is written, under the
    # audit chain's lock (one writer at a time across processes): a budget counted from the trail cannot be
    # overspent by requests running side by side. Each raises Refused to withhold the result.
    at_audit: list[Callable[[Session], None]] = field(default_factory=list)

    def refused(self, reason: str) -> None:
        """The service answers normally but what was asked was refused: the event says so, with the reason."""
        self.outcome, self.reason = "refused", reason

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
    record_refusal(hub, actor, action, resource.label if resource else None, decision.reason, rule=decision.reason)
    refused = Refused(decision.reason)
    refused.audited = True
    return refused


def record_refusal(hub: Hub, actor: Actor, action: str, obj: str | None, reason: str, **details: Any) -> None:
    """Write a refusal to the audit trail (outcome ``refused``, with its reason), whatever refused it: the
    permission table, a rule inside a service (another producer's dataset), authentication."""
    _record(hub, actor, action, obj, "refused", reason, details)


def _record(hub: Hub, actor: Actor, action: str, obj: str | None, outcome: str, reason: str | None,
            details: dict[str, Any]) -> None:
    # A message is written by code but may quote what the caller typed: never store one that looks like an
    # identifier (the guard would refuse it, and the refusal must still be recorded).
    safe = reason if reason is None or looks_like_identifier(reason) is None else "(reason withheld: it quoted input)"
    with hub.store.write() as session:
        append_event(session, actor, action, obj=obj, outcome=outcome, reason=safe, details=details)
    complete_mirror(hub.store, hub.audit_dir)


def _failure(hub: Hub, actor: Actor, action: str, obj: str | None, exc: GuichetError) -> None:
    """Audit a service that refused or failed: ``refused`` with its reason for a refusal (``Hidden`` ones too,
    with the rule, while the caller sees "not found"), ``failed`` with the error's kind and message otherwise."""
    if exc.audited:  # a service called by this one already recorded it
        return
    if isinstance(exc, Hidden):
        record_refusal(hub, actor, action, obj, exc.reason)
    elif isinstance(exc, Refused):
        record_refusal(hub, actor, action, obj, exc.message)
    else:
        _record(hub, actor, action, obj, "failed", exc.message[:500], {"error": type(exc).__name__})
    exc.audited = True


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


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every text inside a parameter's value (strings, and strings in lists, tuples and dicts)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _texts(v, f"{where}.{k}")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            yield from _texts(v, f"{where}[{i}]")


def text_guard(fn: Callable[..., Any], unguarded: tuple[str, ...]) -> Callable[[tuple[Any, ...], dict[str, Any]], None]:
    """The guard of every text a service receives: a value that looks like a NIR (with spaces, dots or dashes
    or without), a pseudonym or a key is refused before the service runs — free text ends up in the audit
    trail, on pages and in public exports. ``unguarded`` names the parameters that carry such values by
    design (a password, a code, the NIR of the opt-out form), each listed in
    ``tests/unit/test_governance.py`` with why."""
    sig = inspect.signature(fn)
    unknown = set(unguarded) - set(sig.parameters)
    if unknown:
        raise RuntimeError(f"{fn.__qualname__}: unguarded parameters {sorted(unknown)} are not parameters")

    def guard(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        bound = sig.bind_partial(None, *args, **kwargs)
        for name, value in bound.arguments.items():
            if name in unguarded:
                continue
            for where, text in _texts(value, name):
                kind = looks_like_identifier(text)
                if kind is not None:
                    raise Refused(f"{where.replace('_', '-')}: refused, it looks like it contains {kind}; "
                                  "describe the case without identifiers")

    return guard


def service(action: str, *, resource: ResourceFn | None = None, transactional: bool = True,
            unguarded: tuple[str, ...] = ()) -> Callable[
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
        guard = text_guard(fn, unguarded)

        @functools.wraps(fn)
        def run(hub: Hub, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            res = _check(hub, actor, action, resource, dict(kwargs))
            unit: Unit | None = None
            try:
                guard(args, kwargs)
                if transactional:
                    with hub.store.write() as session:
                        unit = Unit(hub, actor, session, action, object=res.label if res else None)
                        result = fn(unit, *args, **kwargs)
                        append_event(session, actor, action, obj=unit.object, outcome=unit.outcome,
                                     reason=unit.reason, details=unit.details)
                else:
                    with hub.store.read() as session:
                        unit = Unit(hub, actor, session, action, object=res.label if res else None)
                        result = fn(unit, *args, **kwargs)
                    with hub.store.write() as session:
                        append_event(session, actor, action, obj=unit.object, outcome=unit.outcome,
                                     reason=unit.reason, details=unit.details)
            except GuichetError as exc:
                _failure(hub, actor, action, unit.object if unit else (res.label if res else None), exc)
                raise
            complete_mirror(hub.store, hub.audit_dir)
            return result

        run.__guichet_unguarded__ = unguarded  # type: ignore[attr-defined]
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


def query(action: str, *, resource: ResourceFn | None = None, unguarded: tuple[str, ...] = ()) -> Callable[
    [Callable[Concatenate[Unit, P], R]], Callable[Concatenate[Hub, Actor, P], R]
]:
    """Declare a read-only service. Reads of personal data (kind ``read_personal``) are audited."""
    spec = ACTIONS[action]
    if spec.kind not in ("read", "read_personal"):
        raise RuntimeError(f"@query({action!r}): a {spec.kind} action is a @service")

    def decorate(fn: Callable[Concatenate[Unit, P], R]) -> Callable[Concatenate[Hub, Actor, P], R]:
        guard = text_guard(fn, unguarded)

        @functools.wraps(fn)
        def run(hub: Hub, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            res = _check(hub, actor, action, resource, dict(kwargs))
            unit: Unit | None = None
            try:
                guard(args, kwargs)
                with hub.store.read() as session:
                    unit = Unit(hub, actor, session, action, object=res.label if res else None)
                    result = fn(unit, *args, **kwargs)
            except (Refused, Hidden) as exc:  # a read refused by a rule of the service is audited too
                _failure(hub, actor, action, unit.object if unit else (res.label if res else None), exc)
                raise
            if spec.kind == "read_personal":
                try:
                    with hub.store.write() as session:
                        if unit.at_audit:
                            lock_head(session)
                            for check in unit.at_audit:
                                check(session)
                        append_event(session, actor, action, obj=unit.object, details=unit.details)
                except Refused as exc:  # the result is withheld; the refusal is audited
                    _failure(hub, actor, action, unit.object, exc)
                    raise
                complete_mirror(hub.store, hub.audit_dir)
            return result

        run.__guichet_unguarded__ = unguarded  # type: ignore[attr-defined]
        return _register(action, "query", run)

    return decorate
