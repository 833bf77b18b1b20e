"""French and English: the message catalogues (``locales/*.json``), language choice, dates and numbers.

Two locales need no framework: messages are a dict per language with ``{name}`` placeholders; dates and
numbers follow each language's conventions (French: "28 novembre 2026 à 14:05", "12 345,6";
English: "28 November 2026, 14:05", "12,345.6"). Adding a language is a JSON file plus its formats here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from guichet.web.settings import LOCALES

LOCALE_DIR = Path(__file__).parent / "locales"
NARROW_NBSP = "\u202f"  # French thousands separator


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    return json.loads((LOCALE_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def negotiate(accept_language: str | None, default: str) -> str:
    """The best of our locales for an Accept-Language header (quality values honoured)."""
    best, best_q = default, -1.0
    for part in (accept_language or "").split(","):
        lang, _, params = part.strip().partition(";")
        code = lang.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if code in LOCALES and q > best_q:
            best, best_q = code, q
    return best


MessageSource = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class Translator:
    locale: str
    timezone: str = "Europe/Paris"
    messages: MessageSource = catalogue  # the app's Site.messages: every installed package's messages

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages(self.locale).get(key) or self.messages("en").get(key) or key
        return text.format(**values) if values else text

    def pick(self, text: Mapping[str, str] | None) -> str:
        """A text given in several languages (``{"fr": ..., "en": ...}``), in this one or else any."""
        if not text:
            return ""
        return text.get(self.locale) or next((text[k] for k in LOCALES if text.get(k)), "")

    def number(self, value: float | int, decimals: int | None = None) -> str:
        text = f"{value:,.{decimals}f}" if decimals is not None else f"{value:,}"
        if self.locale == "fr":
            text = text.replace(",", NARROW_NBSP).replace(".", ",")
        return text

    def date(self, value: dt.date | dt.datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, dt.datetime):
            value = self._local(value)
        month = self(f"month.{value.month}")
        return f"{value.day} {month} {value.year}"

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        local = self._local(value)
        day = self.date(local)
        return self("format.datetime", date=day, time=f"{local:%H:%M}", zone=local.tzname() or "UTC")

    def _local(self, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return value.astimezone(ZoneInfo(self.timezone))
