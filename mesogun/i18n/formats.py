"""The locale formats the core's documents share, in one place: a decimal number as a language writes it (French:
a decimal comma), a date in words, and the record's times as a person reads them.

Times stay ISO-like (``2025-03-04 10:15:02 UTC``) in every language: a clinical record's times must read the same
to every reader, and that form cannot be misread in either language. Babel is imported only when first needed.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from mesogun.i18n import checked_language


def decimal(language: str, value: float, places: int) -> str:
    """``value`` with ``places`` decimals as ``language`` writes it: ``0.125`` in English, ``0,125`` in French.
    No thousands separator in either language: the documents' numbers are small, and one language's group mark
    is the other's decimal mark."""
    return in_language(language, f"{value:.{places}f}")


def in_language(language: str, number: str) -> str:
    """A number already written in English (``0.125``, ``4.05``: a message's value as its format spec made it)
    with ``language``'s decimal mark (``0,125``)."""
    return number.replace(".", _decimal_mark(language))


@functools.cache
def _decimal_mark(language: str) -> str:
    from babel.numbers import get_decimal_symbol

    return str(get_decimal_symbol(checked_language(language)))


def long_date(language: str, day: date) -> str:
    """``day`` in words: ``Tuesday 18 March 2025``, ``mardi 18 mars 2025`` (the first of a month is ``1er`` in
    French: ``samedi 1er mars 2025``)."""
    from babel.dates import format_date

    language = checked_language(language)
    pattern = "EEEE d'er' MMMM y" if language == "fr" and day.day == 1 else "EEEE d MMMM y"
    return str(format_date(day, pattern, locale=language))


def timestamp(moment: datetime) -> str:
    """A time as every language reads it: ``2025-03-04 10:15:02 UTC``; another offset as ``+0100``; a time
    without an offset as it is."""
    offset = moment.utcoffset()
    zone = "" if offset is None else (" UTC" if offset == timedelta(0) else moment.strftime(" %z"))
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def time_of_day(moment: datetime) -> str:
    """The time of day alone: ``10:15:02`` (a table's times on the day the document is about)."""
    return moment.strftime("%H:%M:%S")


def short_date(day: date | datetime) -> str:
    """A date in figures as every language reads it: ``2025-03-04`` (ISO 8601; ``04/03`` would be 3 April to an
    English reader)."""
    return day.strftime("%Y-%m-%d")
