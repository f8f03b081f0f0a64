"""The tablet's files as shipped: the vendored htmx is the pinned release (its sums as VENDORED.md says), no page
loads anything from another site (it works offline), and every message has its French translation."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import mesogun_service.tablet as tablet
from mesogun_service.tablet import catalog
from mesogun_service.tablet.i18n import LANGUAGES, translations

PACKAGE = Path(tablet.__file__).parent
STATIC = PACKAGE / "static"


def test_the_vendored_files_are_the_pinned_releases() -> None:
    table = (STATIC / "VENDORED.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+\.js)` \|.*\| `([0-9a-f]{64})` \|$", table, flags=re.MULTILINE)
    assert {name for name, _ in rows} == {path.name for path in STATIC.glob("*.min.js")}
    for name, expected in rows:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == expected, name
    base = (PACKAGE / "templates" / "base.html").read_text(encoding="utf-8")
    for name, _ in rows:
        assert name in base  # the page loads the pinned file by its versioned name


def test_no_page_loads_anything_from_another_site() -> None:
    for template in (PACKAGE / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), template.name


def test_every_message_is_translated_into_french() -> None:
    assert LANGUAGES == ("en", "fr")
    assert catalog.untranslated("fr") == []
    assert catalog.untranslated("en") == []
    assert translations("fr").gettext("Emergency stop") != "Emergency stop"
