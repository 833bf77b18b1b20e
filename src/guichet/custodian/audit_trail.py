"""Plain entry points of the audit trail for the CLI, the web and the scheduler.

``daily_checkpoint(hub)`` is what the scheduler (``guichet jobs run``) calls once a day: it signs a
checkpoint of the audit chain as the system actor and prunes the access log past its retention.
``verify_with_checkpoint`` asks the custodian for its latest checkpoint and verifies the chain with it.
"""

from __future__ import annotations

from guichet.actor import Actor, system_actor
from guichet.audit.checkpoint import LatestCheckpoint, SignedCheckpoint
from guichet.audit.verify import VerifyReport
from guichet.custodian import audit_services, custodian_for
from guichet.governance import audit_services as chain_services
from guichet.governance import authorize
from guichet.hub import Hub


def latest_checkpoint(hub: Hub, caller: str = "hub") -> LatestCheckpoint:
    """The custodian's latest signed checkpoint and its audit public key."""
    return LatestCheckpoint(*custodian_for(hub.config, caller=caller).latest_audit_checkpoint())


def verify_with_checkpoint(hub: Hub, actor: Actor) -> VerifyReport:
    """The chain in the database and the files, and against the custodian's latest checkpoint. An actor
    the permission table refuses is refused (and audited) before the custodian is asked anything."""
    if not authorize(actor, "audit.verify", None):
        return chain_services.verify_chain(hub, actor)  # refuses, audited
    return chain_services.verify_chain(hub, actor, latest=latest_checkpoint(hub, actor.username))


def daily_checkpoint(hub: Hub, actor: Actor | None = None) -> SignedCheckpoint:
    """The scheduler's daily job: sign a checkpoint (``audit.checkpoint``, as the system actor by default)
    and prune access-log files older than the retention (``access_log_retention_days``)."""
    from guichet.audit.access import prune

    signed = audit_services.checkpoint(hub, actor or system_actor())
    prune(hub.home, hub.config.properties)
    return signed
