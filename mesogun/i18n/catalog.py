"""A message catalog's upkeep: the messages a package's code (``N_()``, ``_()``, ``gettext()``) and templates use,
extracted with Babel and merged into each language's ``.po`` file, and the check that every one is translated.

``python -m mesogun.i18n.catalog update`` after changing the core's words, then translate the new French entries
(``check`` lists them); the tablet's catalog has the same two commands (``mesogun_service.tablet.catalog``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from mesogun.i18n import CORE, DEFAULT_LANGUAGE, LANGUAGES, Catalogue

KEYWORDS: Final = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
"""The calls whose literal first argument is a message (``ngettext``: its first two)."""


@dataclass(frozen=True)
class Sources:
    """Where a catalog's messages come from: the files under ``root`` (Babel's extraction ``methods`` and their
    ``options``) and ``words``, messages defined as data (zone labels) with where they come from."""

    catalogue: Catalogue
    project: str
    root: Path
    methods: Sequence[tuple[str, str]]
    options: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    words: Callable[[], Sequence[tuple[str, str]]] = tuple


def extracted(sources: Sources) -> Catalog:
    """Every message the sources use, with where."""
    catalog = Catalog(domain=sources.catalogue.domain, project=sources.project, charset="utf-8")
    for word, origin in sources.words():
        catalog.add(word, None, [(origin, 0)])
    found: Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]] = extract_from_dir(
        sources.root,
        sources.methods,
        options_map=dict(sources.options),
        keywords=KEYWORDS,
        strip_comment_tags=True,
    )
    for filename, line, message, comments, context in found:
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def _read(catalogue: Catalogue, language: str) -> Catalog:
    path = catalogue.path(language)
    if not path.exists():
        return Catalog(locale=language, domain=catalogue.domain)
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=catalogue.domain)


def update(sources: Sources) -> None:
    """Merge the messages in use into each language's catalog (new ones untranslated, unused ones dropped)."""
    template = extracted(sources)
    for language in LANGUAGES:
        catalog = _read(sources.catalogue, language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.version, catalog.fuzzy = sources.project, "1", False
        catalog.msgid_bugs_address, catalog.copyright_holder = "", "mesogun"
        path = sources.catalogue.path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=120, no_location=True, sort_output=True)


def untranslated(sources: Sources, language: str) -> list[str]:
    """The messages in use that ``language`` lacks, or has only fuzzily (English: only those missing)."""
    catalog = _read(sources.catalogue, language)
    missing: list[str] = []
    for message in extracted(sources):
        if not message.id:
            continue
        have = catalog.get(message.id, message.context)
        if have is None or (language != DEFAULT_LANGUAGE and (not have.string or have.fuzzy)):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


FIELD: Final = re.compile(r"\{(\w*)[^{}]*\}")
"""A ``str.format`` field of a message (its name, maybe empty), whatever its spec."""


def misfilled(sources: Sources, language: str) -> list[str]:
    """The messages whose ``language`` translation names a field its English lacks (filling it would fail, and a
    page would fall back to the English)."""
    return [
        message.id
        for message in _read(sources.catalogue, language)
        if message.id
        and isinstance(message.id, str)
        and message.string
        and not set(FIELD.findall(str(message.string))) <= set(FIELD.findall(message.id))
    ]


def main(sources: Sources, argv: Sequence[str], *, program: str) -> int:
    """``update``, or ``check`` (exit 1 listing each language's missing translations and those that name a field
    their English lacks)."""
    if list(argv[:1]) == ["update"]:
        update(sources)
        return 0
    if list(argv[:1]) == ["check"]:
        missing = {language: untranslated(sources, language) for language in LANGUAGES}
        wrong = {language: misfilled(sources, language) for language in LANGUAGES}
        for language in LANGUAGES:
            for message in missing[language]:
                print(f"{language}: untranslated: {message!r}")
            for message in wrong[language]:
                print(f"{language}: names a field its English lacks: {message!r}")
        return 1 if any(missing.values()) or any(wrong.values()) else 0
    print(f"usage: python -m {program} update|check", file=sys.stderr)
    return 2


def core_words() -> list[tuple[str, str]]:
    """The core's words defined as data: the zone labels (:mod:`mesogun.clinic.zones`), the standard
    pre-treatment checklist's questions, the default aftercare advice (a clinic's own are shown as written) and
    the meaning of a practitioner's sign-off (the session report shows it)."""
    from mesogun.clinic import aftercare, checklist, zones
    from mesogun.record.treatment import SIGN_OFF_MEANING

    return (
        [(zone.label, "mesogun.clinic.zones") for zone in zones.CATALOG]
        + [(item.question, "mesogun.clinic.checklist") for item in checklist.DEFAULT_ITEMS]
        + [(item.text, "mesogun.clinic.aftercare") for item in aftercare.DEFAULT_ADVICE]
        + [(SIGN_OFF_MEANING, "mesogun.record.treatment")]
    )


CORE_SOURCES = Sources(
    catalogue=CORE,
    project="mesogun",
    root=Path(__file__).parents[1],
    methods=[("**/i18n/locales/**", "ignore"), ("**/testing/**", "ignore"), ("**.py", "python")],
    words=core_words,
)
"""The core's messages: its Python code and its words defined as data."""


if __name__ == "__main__":
    sys.exit(main(CORE_SOURCES, sys.argv[1:], program="mesogun.i18n.catalog"))
