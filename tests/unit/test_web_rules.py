"""Pure parts of the web layer: message catalogues, formats, signing, CSRF, redirects, TOTP steps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from guichet.web.i18n import Translator, catalogue, negotiate
from guichet.web.login import totp_step
from guichet.web.security import Keys, safe_next
from guichet.web.settings import LOCALES

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "web" / "templates"


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    assert set(en) == set(fr)
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", fr[key])), key


def test_every_literal_key_used_in_templates_exists() -> None:
    keys = set(catalogue("en"))
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used.update(re.findall(r"""t\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", path.read_text(encoding="utf-8")))
    assert used and not sorted(used - keys)
    for prefix in ("role.", "home.role."):
        from guichet.governance import ROLES

        assert all(f"{prefix}{r}" in keys for r in ROLES)


def test_numbers_and_dates_in_each_locale() -> None:
    fr, en = Translator("fr", "Europe/Paris"), Translator("en", "Europe/Paris")
    assert fr.number(1234567) == "1\u202f234\u202f567" and en.number(1234567) == "1,234,567"
    assert fr.number(12345.678, 1) == "12\u202f345,7" and en.number(12345.678, 1) == "12,345.7"
    when = datetime(2026, 7, 14, 8, 5, tzinfo=UTC)
    assert fr.date(when) == "14 juillet 2026" and en.date(when) == "14 July 2026"
    assert fr.datetime(when) == "14 juillet 2026 à 10:05 (CEST)"
    assert en.datetime(when) == "14 July 2026, 10:05 (CEST)"
    assert fr.datetime(None) == "—"


def test_language_negotiation() -> None:
    assert negotiate("fr-FR,fr;q=0.9,en;q=0.8", "en") == "fr"
    assert negotiate("de-DE,en;q=0.5,fr;q=0.7", "en") == "fr"
    assert negotiate("de", "fr") == "fr"
    assert negotiate(None, "en") == "en"
    assert set(LOCALES) == {"fr", "en"}


def test_signed_values_refuse_tampering_and_other_purposes_or_keys() -> None:
    keys = Keys(b"k" * 32)
    value = keys.sign("session", {"s": "abc", "seen": 1})
    assert keys.unsign("session", value) == {"s": "abc", "seen": 1}
    assert keys.unsign("pending", value) is None
    assert Keys(b"j" * 32).unsign("session", value) is None
    body, mac = value.split(".")
    assert keys.unsign("session", body[:-2] + "xx." + mac) is None
    assert keys.unsign("session", "garbage") is None and keys.unsign("session", None) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    keys = Keys(b"k" * 32)
    token = keys.csrf_token("s:one")
    assert keys.csrf_ok("s:one", token)
    assert not keys.csrf_ok("s:two", token) and not keys.csrf_ok("s:one", None) and not keys.csrf_ok("s:one", "")


@pytest.mark.parametrize("target,expected", [
    ("/accounts", "/accounts"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), ("/ok?x=1", "/ok?x=1"), (None, "/"),
    ("/a\r\nSet-Cookie: x=1", "/"),
])
def test_only_local_paths_are_followed_after_a_form(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_totp_steps_allow_one_step_of_drift_only() -> None:
    secret = pyotp.random_base32()
    now = datetime.now(UTC)
    step = int(now.timestamp()) // 30
    totp = pyotp.TOTP(secret)
    assert totp_step(secret, totp.generate_otp(step), now) == step
    assert totp_step(secret, totp.generate_otp(step - 1), now) == step - 1
    assert totp_step(secret, totp.generate_otp(step - 3), now + timedelta(0)) is None
    assert totp_step(secret, "12345", now) is None and totp_step(secret, "abcdef", now) is None
