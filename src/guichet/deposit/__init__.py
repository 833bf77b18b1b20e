"""Deposit: validate → quarantine → pseudonymise → write encrypted Parquet → register versions.

Atomic (pending version, encrypted staging, rename, commit), idempotent (the same file answers
``unchanged``), every row accounted (rows in = accepted + quarantined, checked before publishing).
"""

from guichet.deposit.model import DepositRequest, DepositResult, TableRequest

__all__ = ["DepositRequest", "DepositResult", "TableRequest"]
