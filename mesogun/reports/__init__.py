"""Exports of a treatment session: the session report and the patient's aftercare sheet, as HTML
(:mod:`mesogun.reports.html`) or PDF (:mod:`mesogun.reports.pdf`), both made from one
:class:`~mesogun.clinic.summary.SessionSummary` worded once (:mod:`mesogun.reports.content`), in English or French
(the core's message catalog, :mod:`mesogun.i18n`); docs/reports.md.

The renderers load Jinja2 and fpdf2 only when first used, so ``import mesogun.reports`` (and the ``mesogun``
command) stays light.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from mesogun.i18n import DEFAULT_LANGUAGE

if TYPE_CHECKING:
    from mesogun.clinic.summary import SessionSummary
    from mesogun.reports.html import aftercare_html, session_report_html
    from mesogun.reports.pdf import aftercare_pdf, session_report_pdf

__all__ = [
    "DOCUMENTS",
    "FORMATS",
    "aftercare_html",
    "aftercare_pdf",
    "render",
    "session_report_html",
    "session_report_pdf",
]

Document = Literal["report", "aftercare"]
Format = Literal["pdf", "html"]
DOCUMENTS: tuple[Document, ...] = ("report", "aftercare")
"""The exports: the session report, the patient's aftercare sheet."""
FORMATS: tuple[Format, ...] = ("pdf", "html")


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write an export to ``path`` readable by its owner only (0600, an existing file's mode too: it holds patient
    data); an ``OSError`` if it cannot be written there."""
    descriptor = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(data)


def render(
    document: Document,
    fmt: Format,
    summary: SessionSummary,
    *,
    clinic_name: str,
    language: str = DEFAULT_LANGUAGE,
    contact: Sequence[tuple[str, str]] | None = None,
) -> bytes:
    """One export's bytes (HTML as UTF-8) in ``language`` (English or French; a
    :class:`~mesogun.errors.ParameterError` naming ``language`` for another): what ``mesogun record
    report|aftercare`` writes and the service sends. ``contact``: the clinic's (label, value) pairs the aftercare
    sheet prints (else blanks to fill in)."""
    name = f"{'session_report' if document == 'report' else 'aftercare'}_{fmt}"
    made_by = getattr(importlib.import_module(_HOME[name]), name)
    more = {"contact": contact} if document == "aftercare" else {}
    made = made_by(summary, clinic_name=clinic_name, language=language, **more)
    return made.encode("utf-8") if isinstance(made, str) else bytes(made)


_HOME = {
    "session_report_html": "mesogun.reports.html",
    "aftercare_html": "mesogun.reports.html",
    "session_report_pdf": "mesogun.reports.pdf",
    "aftercare_pdf": "mesogun.reports.pdf",
}


def __getattr__(name: str) -> object:
    """The renderers, imported (with their libraries) on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
