"""The errors every layer raises. The CLI turns them into one line on stderr and an exit code.

Messages name the file, row, field or rule at fault, never an identifier's value.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1  # the command ran but found problems (quality failures, quarantined rows...)
EXIT_REFUSED = 2  # bad usage, bad input or a refusal


class GuichetError(Exception):
    """Base of every error Guichet reports to a person. Its message is one line."""

    exit_code = EXIT_REFUSED
    audited = False  # set once the refusal or failure is in the audit trail (so that it is written once)

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class BadInput(GuichetError):
    """The caller gave something unusable: a malformed file, a wrong argument, an unknown name."""


class NotFound(BadInput):
    """The caller named something that does not exist."""


class Refused(GuichetError):
    """The actor may not do this; the message says which rule refused it."""


class Hidden(NotFound):
    """A refusal answered as "not found", so that it tells nothing about another owner's objects (another
    producer's delivery or dataset). It is audited as a refusal, with ``reason``; the caller sees ``message``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = " ".join(reason.split())


class Conflict(GuichetError):
    """The request contradicts the hub's current state (e.g. init with other settings)."""


class Unavailable(GuichetError):
    """A component the hub needs (database, custodian) cannot be reached."""
