"""The append-only, hash-chained audit log: appends, the JSON-lines mirror, verification."""

from guichet.audit.chain import GENESIS, EventFields, event_hash
from guichet.audit.guard import check_free_text
from guichet.audit.log import append_event, read_events
from guichet.audit.mirror import complete_mirror
from guichet.audit.verify import VerifyReport, verify

__all__ = [
    "GENESIS",
    "EventFields",
    "VerifyReport",
    "append_event",
    "check_free_text",
    "complete_mirror",
    "event_hash",
    "read_events",
    "verify",
]
