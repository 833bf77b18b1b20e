"""The tests hash passwords with argon2's cheapest parameters (tests/conftest.py); the hub itself keeps the
RFC 9106 low-memory profile, and a hash made with other parameters is rehashed at the next sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

from tests.conftest import PRODUCTION_PASSWORD_PARAMETERS


def test_the_hub_hashes_passwords_with_the_rfc_9106_low_memory_profile() -> None:
    assert PRODUCTION_PASSWORD_PARAMETERS == RFC_9106_LOW_MEMORY


def test_a_hash_made_in_the_tests_is_rehashed_by_the_hubs_parameters() -> None:
    cheap = PasswordHasher.from_parameters(CHEAPEST).hash("correct horse battery staple")
    assert PasswordHasher.from_parameters(PRODUCTION_PASSWORD_PARAMETERS).check_needs_rehash(cheap)
