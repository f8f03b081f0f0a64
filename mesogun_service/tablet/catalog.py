"""The message catalog's upkeep: every string of the tablet's templates and Python code (``_()``, ``{% trans %}``,
``N_()``) extracted with Babel and merged into each language's ``.po`` file, and the check that every one of them
is translated. ``python -m mesogun_service.tablet.catalog update`` after changing a page's words, then translate
the new French entries (``check`` lists them)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from mesogun.clinic import checklist, zones
from mesogun_service.tablet.i18n import DOMAIN, LANGUAGES, catalog_path

HERE = Path(__file__).parent
METHODS = [("**/static/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
SOURCE_LANGUAGE = "en"


def core_words() -> list[str]:
    """The core's own words the pages show, translated there by ``_()`` like their own: the zone labels
    (:mod:`mesogun.clinic.zones`) and the standard pre-treatment checklist's questions (a clinic's own checklist
    file is shown as it is written)."""
    return [zone.label for zone in zones.CATALOG] + [item.question for item in checklist.DEFAULT_ITEMS]


def extracted() -> Catalog:
    """Every message the tablet's code and templates use, with where, and the core's words they show."""
    catalog = Catalog(domain=DOMAIN, project="mesogun tablet", charset="utf-8")
    for word in core_words():
        catalog.add(word, None, [("mesogun.clinic", 0)])
    found: Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]] = extract_from_dir(
        HERE, METHODS, options_map=OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    )
    for filename, line, message, comments, context in found:
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def _read(language: str) -> Catalog:
    path = catalog_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def update() -> None:
    """Merge the messages in use into each language's catalog (new ones untranslated, unused ones dropped)."""
    template = extracted()
    for language in LANGUAGES:
        catalog = _read(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.version, catalog.fuzzy = "mesogun tablet", "1", False
        catalog.msgid_bugs_address, catalog.copyright_holder = "", "mesogun"
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=120, no_location=True, sort_output=True)


def untranslated(language: str) -> list[str]:
    """The messages in use that ``language`` lacks, or has only fuzzily (English: only those missing)."""
    catalog = _read(language)
    missing: list[str] = []
    for message in extracted():
        if not message.id:
            continue
        have = catalog.get(message.id, message.context)
        if have is None or (language != SOURCE_LANGUAGE and (not have.string or have.fuzzy)):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def main(argv: list[str]) -> int:
    """``update`` or ``check`` (exit 1 listing each language's missing translations)."""
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        problems = {language: untranslated(language) for language in LANGUAGES}
        for language, missing in problems.items():
            for message in missing:
                print(f"{language}: untranslated: {message!r}")
        return 1 if any(problems.values()) else 0
    print("usage: python -m mesogun_service.tablet.catalog update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
