"""The catalogue's hub-wide properties (``[properties]`` of guichet.toml): checking values before saving."""

from __future__ import annotations

import re
from typing import Any

from guichet.catalogue.model import ACCESS_RIGHTS, HUB_PROPERTIES, placeholder_in
from guichet.errors import BadInput

URL_KEYS = ("base_url", "publisher_homepage", "contact_url", "hdab_homepage", "legal_basis_source",
            "applicable_legislation")
EMAIL_KEYS = ("publisher_email", "contact_email", "hdab_email")
PUBLISHER_TYPES = ("NationalAuthority", "Academia-ScientificOrganisation", "PrivateSector", "NonProfitOrganisation")
OPTIONAL_KEYS = ("catalogue_title", "catalogue_description", "trusted_data_holder", "review_days")
KEYS = HUB_PROPERTIES + OPTIONAL_KEYS
_URL = re.compile(r"^https?://[^\s/$.?#][^\s<>\"]*$")
_EMAIL = re.compile(r"^(mailto:)?[^@\s<>\"]+@[^@\s<>\"]+$")


def check_properties(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes, checked: known keys, URLs, addresses, codes, and no placeholder value."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in KEYS:
            raise BadInput(f"catalogue property {key}: unknown (known: {', '.join(KEYS)})")
        if key == "trusted_data_holder":
            out[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            continue
        if key == "review_days":
            try:
                out[key] = int(value)
            except (TypeError, ValueError):
                raise BadInput("catalogue property review_days: a number of days") from None
            continue
        text = str(value).strip()
        if not text:
            raise BadInput(f"catalogue property {key}: empty")
        found = placeholder_in(text)
        if found:
            raise BadInput(f"catalogue property {key}: placeholder value refused ({found!r})")
        if key in URL_KEYS and not _URL.match(text):
            raise BadInput(f"catalogue property {key}: not an http(s) address")
        if key in EMAIL_KEYS and not _EMAIL.match(text):
            raise BadInput(f"catalogue property {key}: not an e-mail address")
        if key == "access_rights" and text not in ACCESS_RIGHTS:
            raise BadInput(f"catalogue property access_rights: one of {', '.join(ACCESS_RIGHTS)}")
        if key == "publisher_type" and text not in PUBLISHER_TYPES:
            raise BadInput(f"catalogue property publisher_type: one of {', '.join(PUBLISHER_TYPES)}")
        out[key] = text
    return out


def parse_assignments(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``key=value`` pairs as the CLI takes them."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set {pair!r}: write key=value")
        out[key.strip()] = value
    return out
