"""The tablet's two languages (:data:`mesogun.i18n.LANGUAGES`): its message catalog per language, read from the
shipped ``.po`` files with Babel at start-up (no compiled ``.mo`` to build or ship) in front of the core's, and
which language a request reads."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from babel.support import Translations
from starlette.requests import Request

from mesogun.i18n import CORE, LANGUAGE_NAMES, LANGUAGES, N_, Catalogue

__all__ = [
    "CATALOGUE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "LANGUAGE_NAMES",
    "N_",
    "gettext",
    "language_of",
    "translations",
]

LANGUAGE_COOKIE: Final = "mesogun_lang"
"""The cookie that keeps a tablet's chosen language."""

CATALOGUE: Final = Catalogue("messages", Path(__file__).with_name("locales"), fallback=CORE)
"""``locales/<lang>/LC_MESSAGES/messages.po``: the pages' own words, then the core's (zone labels, checklist
questions, the aftercare sheet, refusals)."""


def translations(language: str) -> Translations:
    """The pages' catalog of ``language``, the core's behind it."""
    return CATALOGUE.translations(language)


def language_of(request: Request) -> str:
    """The language a request reads: the tablet's chosen one (cookie), else the browser's first shipped language
    (``Accept-Language``, by quality), else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for language in _accepted(request.headers.get("accept-language", "")):
        if language in LANGUAGES:
            return language
    return LANGUAGES[0]


def _accepted(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, best first (``fr-CA;q=0.8`` → ``fr``)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def gettext(language: str, message: str) -> str:
    """``message`` in ``language`` (Python-side strings: flash messages, fragments built in code)."""
    return translations(language).gettext(message)
