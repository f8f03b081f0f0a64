"""The session report and the aftercare sheet as standalone HTML pages (Jinja2, every value escaped), from the
templates shipped in ``mesogun/reports/templates/``. The page prints on A4 with the table headings repeated. The
templates hold no words: every one arrives worded in the document's language (:mod:`mesogun.reports.content`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from mesogun.clinic.aftercare import AftercareItem
from mesogun.clinic.summary import SessionSummary
from mesogun.i18n import DEFAULT_LANGUAGE
from mesogun.reports import content


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string (for the printed page's margin boxes): every character but letters,
    digits and spaces as a CSS escape, so nothing in it can end the string or the style sheet."""
    return Markup('"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"')


def css_page(masthead: content.Masthead) -> Markup:
    """The printed page's "Visit 17 · page x of y" as CSS ``content``: the words (:class:`content.Furniture`'s
    ``page_of``) quoted, its ``{page}`` and ``{pages}`` the printer's counters."""
    parts = re.split(r"(\{page\}|\{pages\})", f"{masthead.visit_label} · {masthead.furniture.page_of}")
    counters = {"{page}": "counter(page)", "{pages}": "counter(pages)"}
    return Markup(" ".join(counters[part] if part in counters else css_string(part) for part in parts if part))


@functools.cache
def _environment() -> Environment:
    # autoescape=True whatever a template's name: a note holding "<script>" shows as text, never runs.
    environment = Environment(
        loader=PackageLoader("mesogun.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["css_string"] = css_string
    environment.filters["css_page"] = css_page
    return environment


def session_report_html(
    summary: SessionSummary, *, clinic_name: str = content.DEFAULT_CLINIC, language: str = DEFAULT_LANGUAGE
) -> str:
    """The session report as one HTML document in ``language`` (pseudonymised unless ``summary.patient_name`` is
    given)."""
    doc = content.session_report(summary, clinic_name=clinic_name, language=language)
    return _environment().get_template("session_report.html").render(doc=doc)


def aftercare_html(
    summary: SessionSummary,
    advice: Sequence[AftercareItem] | None = None,
    *,
    clinic_name: str = content.DEFAULT_CLINIC,
    contact: Sequence[tuple[str, str]] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The patient's aftercare sheet as one HTML document in ``language``: ``advice`` if given, else what the
    record says was given, else the default advice; ``contact`` the clinic's (label, value) pairs, else blanks to
    fill in."""
    doc = content.aftercare_sheet(
        summary, content.advice_lines(summary, advice), clinic_name=clinic_name, contact=contact, language=language
    )
    return _environment().get_template("aftercare.html").render(doc=doc)
