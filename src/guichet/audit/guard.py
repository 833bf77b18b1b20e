"""Audit events never carry a person's identifier or pseudonym. Free text that looks like one is refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from guichet.errors import BadInput

# A NIR: sex digit, year, month, département (incl. 2A/2B), commune, order, optional key; its groups
# written together or apart, with spaces, dots or dashes (1 85 05 75 123 456 73, 1-85-05-75-123-456-73).
_SEP = r"[\s.\-]?"
_NIR = re.compile(rf"(?<![0-9A-Za-z])[1-478]{_SEP}\d{{2}}{_SEP}\d{{2}}{_SEP}(?:\d{{2}}|2[AaBb]){_SEP}\d{{3}}{_SEP}\d{{3}}"
                  rf"(?:{_SEP}\d{{2}})?(?![0-9A-Za-z])")
# A 17-character pseudonym in the SNDS alphabet (level-1 or hub pseudonyms).
_PSEUDONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{17}(?![A-Za-z0-9])")
# Long hex or base64 runs: hashes, keys, tokens.
_DIGEST = re.compile(r"(?<![A-Za-z0-9])(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/_-]{40,}={0,2})(?![A-Za-z0-9])")


def looks_like_identifier(text: str) -> str | None:
    """The kind of identifier ``text`` seems to contain, or None."""
    if _NIR.search(text):
        return "a NIR"
    if _PSEUDONYM.search(text):
        return "a pseudonym"
    if _DIGEST.search(text):
        return "a hash, key or token"
    return None


def check_free_text(text: str | None, field: str = "reason") -> None:
    """Refuse a reason or comment that looks like it carries an identifier (never echo it)."""
    if text is None:
        return
    kind = looks_like_identifier(text)
    if kind is not None:
        raise BadInput(f"{field}: refused, it looks like it contains {kind}; describe the case without identifiers")


def check_details(details: Mapping[str, Any], path: str = "details") -> None:
    """Details are written by code; a value that looks like an identifier is a bug, refused loudly."""
    for key, value in details.items():
        where = f"{path}.{key}"
        if isinstance(value, str):
            check_free_text(value, where)
        elif isinstance(value, Mapping):
            check_details(value, where)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    check_free_text(item, f"{where}[{i}]")
                elif isinstance(item, Mapping):
                    check_details(item, f"{where}[{i}]")
