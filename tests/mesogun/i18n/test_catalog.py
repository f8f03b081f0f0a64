"""The core's message catalog: every word the core shows a person is translated, and a language is checked."""

from __future__ import annotations

import pytest

from mesogun.clinic import checklist, zones
from mesogun.errors import ParameterError
from mesogun.i18n import CORE, LANGUAGES, checked_language, gettext
from mesogun.i18n import catalog as upkeep


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_core_message_in_use_is_in_each_catalog(language: str) -> None:
    assert upkeep.untranslated(upkeep.CORE_SOURCES, language) == []


def test_the_core_words_shown_on_pages_read_in_french() -> None:
    assert gettext("fr", zones.CATALOG[0].label) != zones.CATALOG[0].label
    assert gettext("fr", checklist.DEFAULT_ITEMS[0].question) != checklist.DEFAULT_ITEMS[0].question
    assert gettext("en", zones.CATALOG[0].label) == zones.CATALOG[0].label


def test_a_message_no_catalog_holds_is_shown_as_it_is() -> None:
    assert gettext("fr", "A clinic's own checklist question?") == "A clinic's own checklist question?"


@pytest.mark.parametrize(("given", "language"), [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("en_GB", "en")])
def test_a_language_tag_reads_as_its_primary_language(given: str, language: str) -> None:
    assert checked_language(given) == language


def test_a_language_that_does_not_ship_is_refused_by_name() -> None:
    with pytest.raises(ParameterError) as refused:
        checked_language("de", field="--language")
    assert refused.value.field == "--language"
    assert "--language='de'" in str(refused.value)
    assert "en, fr" in str(refused.value)


def test_the_catalog_files_ship_for_every_language() -> None:
    for language in LANGUAGES:
        assert CORE.path(language).is_file()
