"""Governance: who may do what, and the one path every state change takes (check, act, audit)."""

from guichet.actor import SYSTEM, Actor
from guichet.governance.decorators import SERVICES, Unit, query, service
from guichet.governance.permissions import ACTIONS, ROLES, ActionSpec, Decision, Resource, authorize

__all__ = [
    "ACTIONS",
    "ROLES",
    "SERVICES",
    "SYSTEM",
    "ActionSpec",
    "Actor",
    "Decision",
    "Resource",
    "Unit",
    "authorize",
    "query",
    "service",
]
