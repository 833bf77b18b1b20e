"""The web portal's settings, read from the hub's ``[properties]`` (``web_*`` keys) once by the factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guichet.config import HubConfig
from guichet.errors import BadInput

LOCALES: tuple[str, ...] = ("fr", "en")


@dataclass(frozen=True)
class WebSettings:
    session_hours: int = 12  # absolute lifetime of a session
    idle_minutes: int = 30  # a session unused this long ends
    secure_cookies: bool | None = None  # None: Secure when the request came over https (or via a TLS proxy)
    lockout_threshold: int = 5  # failed logins (password or code) before the account is locked
    lockout_minutes: int = 15
    rate_limit_attempts: int = 20  # login attempts per client address...
    rate_limit_minutes: int = 15  # ...within this window
    default_locale: str = "fr"
    timezone: str = "Europe/Paris"  # dates are shown in this zone
    threads: int = 8  # worker threads per process for database work (anyio's limiter)
    session_cache_seconds: int = 1  # a worker trusts its last lookup of a session this long (0: never)
    catalogue_cache_seconds: int = 1  # a worker trusts its last read of the hub's revision this long (0: no cache)
    max_body_bytes: int = 256 * 1024  # a request body's limit on routes that declare none (forms, JSON)


_KEYS: dict[str, type] = {
    "session_hours": int,
    "idle_minutes": int,
    "secure_cookies": bool,
    "lockout_threshold": int,
    "lockout_minutes": int,
    "rate_limit_attempts": int,
    "rate_limit_minutes": int,
    "default_locale": str,
    "timezone": str,
    "threads": int,
    "session_cache_seconds": int,
    "catalogue_cache_seconds": int,
    "max_body_bytes": int,
}
_MAY_BE_ZERO = frozenset({"session_cache_seconds", "catalogue_cache_seconds"})


def web_settings(config: HubConfig) -> WebSettings:
    """The settings from ``properties.web_<name>``; refuses a wrong type or value, naming the key."""
    values: dict[str, Any] = {}
    for key, kind in _KEYS.items():
        prop = f"web_{key}"
        if prop not in config.properties:
            continue
        value = config.properties[prop]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise BadInput(f"guichet.toml: properties.{prop} must be a {kind.__name__}")
        least = 0 if key in _MAY_BE_ZERO else 1
        if isinstance(value, int) and not isinstance(value, bool) and value < least:
            raise BadInput(f"guichet.toml: properties.{prop} must be at least {least}")
        values[key] = value
    settings = WebSettings(**values)
    if settings.default_locale not in LOCALES:
        raise BadInput(f"guichet.toml: properties.web_default_locale must be one of {', '.join(LOCALES)}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(settings.timezone)
    except (KeyError, ValueError, OSError):
        raise BadInput("guichet.toml: properties.web_timezone is not a known time zone") from None
    return settings
