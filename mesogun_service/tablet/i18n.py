"""The tablet's two languages (English, French): one message catalog per language, read from the shipped ``.po``
files with Babel at start-up (no compiled ``.mo`` to build or ship), and which language a request reads."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LANGUAGES: Final = ("en", "fr")
"""The languages that ship; the first is the default."""

LANGUAGE_NAMES: Final = {"en": "English", "fr": "Français"}
"""Each language in its own words (the language switch)."""

LANGUAGE_COOKIE: Final = "mesogun_lang"
"""The cookie that keeps a tablet's chosen language."""

LOCALES: Final = Path(__file__).with_name("locales")
"""``<lang>/LC_MESSAGES/messages.po`` for each language."""

DOMAIN: Final = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is defined (a Python constant); templates translate it on use."""
    return message


def catalog_path(language: str) -> Path:
    """The ``.po`` file of ``language``."""
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> Translations:
    """The catalog of ``language`` (English: its own catalog, whose empty translations leave each message as it is)."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


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
