"""Deposit: validate → quarantine → pseudonymise → write encrypted Parquet → register versions.

Atomic (pending version, encrypted staging, rename, commit), idempotent (the same file answers
``unchanged``), every row accounted (rows in = accepted + quarantined, checked before publishing).
"""

import guichet.governance  # noqa: F401 - first: the audit and governance packages import each other
from guichet.deposit import doctor as _doctor  # noqa: F401 - registers the doctor checks
from guichet.deposit.model import DepositRequest, DepositResult, TableRequest

__all__ = ["DepositRequest", "DepositResult", "TableRequest"]
