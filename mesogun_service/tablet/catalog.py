"""The tablet's message catalog upkeep: every string of its templates and Python code (``_()``, ``{% trans %}``,
``N_()``), and of the service's code (its refusals the pages show), extracted with Babel and merged into each
language's ``.po`` file, and the check that every one of them is translated. ``python -m
mesogun_service.tablet.catalog update`` after changing a page's words, then translate the new French entries
(``check`` lists them). The core's words the pages show (zone labels, checklist questions, refusals) are in the
core's catalog (:mod:`mesogun.i18n.catalog`), which the tablet's falls back to."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog

from mesogun.i18n import catalog as upkeep
from mesogun_service.tablet.i18n import CATALOGUE

SERVICE = Path(__file__).parents[1]
"""``mesogun_service``: the tablet's pages and the service's refusals they show (a blank override reason...)."""

TEMPLATES = "**/tablet/templates/**.html"

SOURCES = upkeep.Sources(
    catalogue=CATALOGUE,
    project="mesogun tablet",
    root=SERVICE,
    methods=[("**/tablet/static/**", "ignore"), ("**.py", "python"), (TEMPLATES, "jinja2.ext:babel_extract")],
    options={TEMPLATES: {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}},
)


def extracted() -> Catalog:
    """Every message the tablet's code and templates use, with where."""
    return upkeep.extracted(SOURCES)


def untranslated(language: str) -> list[str]:
    """The tablet's messages in use that ``language`` lacks."""
    return upkeep.untranslated(SOURCES, language)


def misfilled(language: str) -> list[str]:
    """The tablet's messages whose ``language`` translation names a field its English lacks."""
    return upkeep.misfilled(SOURCES, language)


if __name__ == "__main__":
    sys.exit(upkeep.main(SOURCES, sys.argv[1:], program="mesogun_service.tablet.catalog"))
