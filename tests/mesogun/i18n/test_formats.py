"""The core's locale formats: a decimal comma in French, dates in words in each language, times that read the
same in every language."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from mesogun.errors import ParameterError
from mesogun.i18n import formats


@pytest.mark.parametrize(
    ("language", "value", "places", "shown"),
    [
        ("en", 0.125, 3, "0.125"),
        ("fr", 0.125, 3, "0,125"),
        ("fr", 0.4, 3, "0,400"),
        ("en", 1234.5, 1, "1234.5"),  # no thousands separator: a French reader would take "1,234" for a decimal
        ("fr", 1234.5, 1, "1234,5"),
        ("fr", 2, 0, "2"),
        ("fr-CA", 1.5, 2, "1,50"),
    ],
)
def test_a_decimal_has_its_places_and_its_languages_mark(language: str, value: float, places: int, shown: str) -> None:
    assert formats.decimal(language, value, places) == shown


def test_a_date_in_words_in_each_language() -> None:
    assert formats.long_date("en", date(2025, 3, 18)) == "Tuesday 18 March 2025"
    assert formats.long_date("fr", date(2025, 3, 18)) == "mardi 18 mars 2025"
    assert formats.long_date("en", date(2025, 3, 1)) == "Saturday 1 March 2025"
    assert formats.long_date("fr", date(2025, 3, 1)) == "samedi 1er mars 2025"
    assert formats.long_date("fr", date(2025, 8, 11)) == "lundi 11 août 2025"


def test_times_read_the_same_in_every_language() -> None:
    moment = datetime(2025, 3, 4, 10, 15, 2, 250_000, tzinfo=UTC)
    assert formats.timestamp(moment) == "2025-03-04 10:15:02 UTC"
    assert formats.timestamp(moment.astimezone(timezone(timedelta(hours=1)))) == "2025-03-04 11:15:02 +0100"
    assert formats.timestamp(moment.replace(tzinfo=None)) == "2025-03-04 10:15:02"
    assert formats.time_of_day(moment) == "10:15:02"
    assert formats.short_date(moment) == "2025-03-04" == formats.short_date(date(2025, 3, 4))


def test_a_language_that_does_not_ship_is_refused() -> None:
    with pytest.raises(ParameterError):
        formats.decimal("de", 1.5, 1)
    with pytest.raises(ParameterError):
        formats.long_date("de", date(2025, 3, 18))
