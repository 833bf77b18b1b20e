"""NIR validation (the French social-security number): pure rules, no I/O.

A NIR is 13 characters + a 2-digit control key = 97 − (number mod 97). The number is the 13 characters
read as an integer, with Corsica's département codes replaced as INSEE does: ``2A`` → ``19`` and ``2B``
→ ``18``. The sex digit says which kind of number it is: 1 or 2 for an ordinary NIR; 3 to 8 for
provisional numbers (``IR_NIR_V`` codes 03 and 04: 5/6 for migrants in transit, 7/8 for provisional
insured people; 3/4 for foreigners being registered). Fictitious NIRs used for anonymous care
(``IR_NIR_V`` codes 01, 05, 06, 08, 09, 11-15: abortion, STI screening, contraception of minors...) have
year, month and département all ``55``.
"""

from __future__ import annotations

from dataclasses import dataclass

INVALID_NIR_KEY = "!invalid_nir_key"  # the marker a producer writes instead of a pseudonym
INVALID_PSA_INPUTS = "!invalid_psa_inputs"  # psa inputs whose birth date or sex cannot be read
MARKERS = (INVALID_NIR_KEY, INVALID_PSA_INPUTS)

_ALNUM_DEPT = {"2A": "19", "2B": "18"}
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class NirCheck:
    value: str
    valid: bool
    reason: str | None  # None when valid; else the rule that failed, or the NIR's kind

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value, "valid": self.valid, "reason": self.reason}


def normalise(value: str) -> str:
    """Spaces and dots removed, letters upper-cased (``2a`` → ``2A``)."""
    return "".join(ch for ch in value if ch not in " .-\t").upper()


def _number(nir13: str) -> int | None:
    dept = nir13[5:7]
    digits = nir13[:5] + _ALNUM_DEPT.get(dept, dept) + nir13[7:]
    if not set(digits) <= _DIGITS:
        return None
    return int(digits)


def control_key(nir13: str) -> int | None:
    """The control key of the 13 first characters, or None when they are not a NIR's characters."""
    n = _number(nir13)
    return None if n is None else 97 - (n % 97)


def key_ok(value: str) -> bool:
    """Is this a 15-character NIR whose control key is right? (What a producer checks first.)"""
    nir = normalise(value)
    if len(nir) != 15 or not set(nir[13:]) <= _DIGITS:
        return False
    key = control_key(nir[:13])
    return key is not None and key == int(nir[13:])


def _structure(nir: str) -> str | None:
    month, dept = int(nir[3:5]), nir[5:7]
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return "month"
    if dept == "00":
        return "département"
    return None


def check(value: str) -> NirCheck:
    """Check one NIR: format, control key, sex digit, month, département; then its kind."""
    nir = normalise(value)
    if len(nir) != 15:
        return NirCheck(value, False, "length (13 characters + 2-digit key)")
    dept = nir[5:7]
    if not (set(nir[:5] + nir[7:]) <= _DIGITS and (set(dept) <= _DIGITS or dept in _ALNUM_DEPT)):
        return NirCheck(value, False, "characters")
    if not key_ok(nir):
        return NirCheck(value, False, "control key")
    sex = nir[0]
    if nir[1:7] == "555555" and sex in "12":
        return NirCheck(value, False, "fictitious")
    if sex in "345678":
        return NirCheck(value, False, "provisional")
    if sex not in "12":
        return NirCheck(value, False, "sex digit")
    problem = _structure(nir)
    if problem is not None:
        return NirCheck(value, False, problem)
    return NirCheck(value, True, None)


def with_key(nir13: str) -> str:
    """The 15-character NIR for 13 characters (test fixtures, synthetic data)."""
    key = control_key(nir13)
    if key is None:
        raise ValueError("not the 13 characters of a NIR")
    return f"{nir13}{key:02d}"


def sex_of(nir: str) -> str | None:
    """The sex code (1 or 2) an ordinary or provisional NIR carries."""
    d = normalise(nir)[:1]
    if not d:
        return None
    if d in "1357":
        return "1"
    if d in "2468":
        return "2"
    return None
