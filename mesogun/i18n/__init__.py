"""The host's two languages (English, French) and its own message catalog: the words the core shows a person
(the session report, the aftercare sheet, zone labels, checklist questions, refusals), one ``.po`` file per
language in ``mesogun/i18n/locales/``, read with Babel when first needed (no compiled ``.mo`` to build or ship).

A package on top (the tablet) keeps its own catalog and falls back to this one (:meth:`Catalogue.translations`),
so a word of the core is translated once, here. ``python -m mesogun.i18n.catalog update|check`` keeps it.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from mesogun.errors import ParameterError

if TYPE_CHECKING:
    from babel.support import Translations

LANGUAGES: Final = ("en", "fr")
"""The languages that ship; the first is the default and the language the code is written in."""

DEFAULT_LANGUAGE: Final = LANGUAGES[0]

LANGUAGE_NAMES: Final = {"en": "English", "fr": "Français"}
"""Each language in its own words (a language switch, a ``--language`` help)."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is defined (a constant); it is translated where it is shown."""
    return message


def checked_language(language: str, *, field: str = "language") -> str:
    """``language`` if it ships (case and a region ignored: ``FR``, ``fr-CA`` → ``fr``), else a
    :class:`~mesogun.errors.ParameterError` naming ``field``, the value and the languages there are."""
    primary = language.strip().split("-")[0].split("_")[0].lower()
    if primary not in LANGUAGES:
        raise ParameterError(
            f"{field}={language!r} is not a language mesogun ships; use one of {', '.join(LANGUAGES)}",
            field=field,
            value=language,
        )
    return primary


@dataclass(frozen=True)
class Catalogue:
    """One package's message catalog: ``<locales>/<language>/LC_MESSAGES/<domain>.po`` for each language,
    falling back to ``fallback``'s for a message it does not hold."""

    domain: str
    locales: Path
    fallback: Catalogue | None = None

    def path(self, language: str) -> Path:
        """The ``.po`` file of ``language``."""
        return self.locales / language / "LC_MESSAGES" / f"{self.domain}.po"

    def translations(self, language: str) -> Translations:
        """The catalog of ``language`` read once (English: its empty translations leave each message as it is),
        with the fallback's behind it."""
        return _translations(self, checked_language(language))

    def gettext(self, language: str, message: str) -> str:
        """``message`` in ``language``; a message no catalog holds (a clinic's own words) as it is."""
        return self.translations(language).gettext(message)


@functools.cache
def _translations(catalogue: Catalogue, language: str) -> Translations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalogue.path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=catalogue.domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    translations = Translations(compiled, domain=catalogue.domain)
    if catalogue.fallback is not None:
        translations.add_fallback(catalogue.fallback.translations(language))
    return translations


CORE: Final = Catalogue("mesogun", Path(__file__).with_name("locales"))
"""The core's catalog."""


def gettext(language: str, message: str) -> str:
    """``message`` in ``language`` from the core's catalog (a message it does not hold as it is)."""
    return CORE.gettext(language, message)
