"""Who may ask the custodian what: caller kinds and their scopes, the purposes each operation accepts, and
the bounds of one call.

A caller has a kind. A *producer* gets its own domain's level-1 key and nothing else; the *hub* gets what
the hub's code calls (hub and project pseudonyms, opt-out pseudonyms, data keys, unwrapping, shredding,
rotation, audit checkpoints) and never a level-1 key, which would let it turn a NIR into the lake's pseudonyms at will. The
*custodian* kind is the custodian's own operator on its host (``guichet custodian domain-key`` and the
like): whoever can read the custodian home holds the master secret anyway. HTTP tokens are issued for
producers and hubs only. The scopes of a kind are defined here, not stored in the token, so that a token
follows its kind's definition.

Purposes are a grammar, not free text: they land in the call log, and a free label could carry a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guichet.custodian.keys import check_project
from guichet.errors import BadInput, Refused

STATUS = "status"
PSEUDONYMISE_HUB = "pseudonymise:hub"
PSEUDONYMISE_PROJECT = "pseudonymise:project"
OPTOUT = "optout-pseudonyms"
DATA_KEYS = "data-keys"
UNWRAP = "unwrap"
SHRED = "shred"
ROTATION = "rotation"
DOMAIN_KEY = "domain-key"
AUDIT_CHECKPOINT = "audit-checkpoint"  # sign a checkpoint of the audit chain, read the latest

KIND_HUB = "hub"
KIND_PRODUCER = "producer"
KIND_CUSTODIAN = "custodian"
TOKEN_KINDS = (KIND_PRODUCER, KIND_HUB)

_HUB = frozenset({STATUS, PSEUDONYMISE_HUB, PSEUDONYMISE_PROJECT, OPTOUT, DATA_KEYS, UNWRAP, SHRED, ROTATION,
                  AUDIT_CHECKPOINT})
KIND_SCOPES: dict[str, frozenset[str]] = {
    KIND_HUB: _HUB,
    KIND_PRODUCER: frozenset({DOMAIN_KEY}),
    KIND_CUSTODIAN: _HUB | {DOMAIN_KEY},
}

# One call's bounds. The hub's biggest legitimate batch is a deposit's: one engine batch (122,880 rows) or
# the held-back duplicate candidates of a table (under 100,000 + one batch); 500,000 values leave twice that.
# An Arrow IPC stream of 500,000 level-1 pseudonyms or markers takes under 13 MB; 32 MiB leaves room for
# longer person ids at the project level. Every other route carries a few hundred bytes of JSON.
DEFAULT_MAX_BATCH = 500_000
DEFAULT_MAX_BODY = 32 * 1024 * 1024
JSON_MAX_BODY = 64 * 1024

CALLER_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The deposit's dataset names (``deposit.atomic.DATASET_NAME``): a hub pseudonym is asked for one dataset.
DEPOSIT_PURPOSE_RE = re.compile(r"^deposit:[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
EXTRACT_PURPOSE_PREFIX = "extract:"


@dataclass(frozen=True)
class Grant:
    """A caller, its kind and, for a producer, its one domain."""

    caller: str
    kind: str
    domain: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KIND_SCOPES:
            raise BadInput(f"custodian caller kind {self.kind!r}: must be one of {', '.join(KIND_SCOPES)}")

    @property
    def scopes(self) -> frozenset[str]:
        return KIND_SCOPES[self.kind]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.allows(scope):
            raise Refused(f"custodian: a {self.kind} caller may not call {scope} "
                          f"(its scopes: {', '.join(sorted(self.scopes))})")

    def require_domain(self, domain: str) -> None:
        if self.kind == KIND_PRODUCER and domain != self.domain:
            raise Refused("custodian: a producer token gets the key of its own domain only")


def hub_grant(caller: str) -> Grant:
    return Grant(caller, KIND_HUB)


def pseudonymise_scope(level: str | None) -> str:
    """The scope a pseudonymisation asks for; anything but ``project`` counts as ``hub``, whose own
    validation then refuses a wrong level."""
    return PSEUDONYMISE_PROJECT if level == "project" else PSEUDONYMISE_HUB


def check_pseudonymise_purpose(level: str, purpose: str, project: str | None) -> str:
    """Hub pseudonyms are asked for one deposit (``deposit:<dataset>``); project pseudonyms for one
    project's extract (``extract:<project>``, the same project as asked)."""
    if level == "project":
        if project is None:
            raise BadInput("project pseudonyms need a project")
        if purpose != EXTRACT_PURPOSE_PREFIX + check_project(project):
            raise BadInput("purpose: project pseudonyms are asked as extract:<project>, for the project named")
        return purpose
    if not DEPOSIT_PURPOSE_RE.match(purpose) or ".." in purpose:
        raise BadInput("purpose: hub pseudonyms are asked as deposit:<dataset> "
                       "(dataset: 1-128 characters from [A-Za-z0-9_.-])")
    return purpose


def check_batch(count: int, max_batch: int) -> None:
    if count > max_batch:
        raise BadInput(f"pseudonymise: {count} values in one call; the custodian takes at most {max_batch} "
                       "(send smaller batches)")
